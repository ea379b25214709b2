// libFuzzer harness for the header decoder: feeds the input as one record of every supported link type.
// Build + run: native/fuzz/run.sh (clang -fsanitize=fuzzer,address,undefined).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "decode.h"

namespace {
// Every link type LinktypeSupported() accepts, plus two it must refuse without reading the bytes.
const int kLinktypes[] = {0, 1, 9, 12, 14, 50, 101, 105, 108, 113, 127, 197, 228, 229, 276, 147, 65535};

void Check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 18) return 0;
  // Copy into an exactly-sized heap buffer so ASan catches any read past caplen.
  std::vector<uint8_t> buf(data, data + size);
  const uint8_t* p = buf.empty() ? nullptr : buf.data();
  const uint32_t caplen = static_cast<uint32_t>(size);
  for (int lt : kLinktypes) {
    // As captured in full, and as a snaplen-cut record of a longer packet.
    for (uint32_t wire : {caplen, caplen + 1000}) {
      netshare::DecodedPacket out;
      netshare::DecodePacket(lt, p, caplen, wire, out);
      Check(out.status <= netshare::kStatusUndecodable);
      Check(out.ip_version == 0 || out.ip_version == 4 || out.ip_version == 6);
      if (!netshare::LinktypeSupported(lt)) Check(out.status == netshare::kStatusUndecodable);
      if (out.ip_version == 4) Check(out.ihl >= 20 && out.ihl <= 60);
      if (out.ip_version == 0) Check(out.status >= netshare::kStatusNotIp);
      Check(out.frag_offset <= 0x1fff);
    }
  }
  return 0;
}
