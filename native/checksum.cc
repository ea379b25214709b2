// Internet checksum of a whole buffer, for callers that do not accumulate incrementally.
#include "checksum.h"

namespace netshare {

uint16_t InternetChecksum(const uint8_t* p, size_t len) {
  uint64_t sum = 0;  // 64-bit so any buffer length is safe
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += LoadBe16(p + i);
  if (i < len) sum += static_cast<uint32_t>(p[i]) << 8;
  while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffu);
}

}  // namespace netshare
