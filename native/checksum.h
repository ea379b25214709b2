// Internet checksum (RFC 1071) helpers for the pcap writer: ones-complement sums over big-endian 16-bit words.
#pragma once
#include <cstddef>
#include <cstdint>

#include "byte_order.h"

namespace netshare {

// Adds `len` bytes at `p` (read as big-endian 16-bit words; an odd last byte is padded with zero) to the
// 32-bit accumulator `sum` and returns the new, unfolded accumulator. Never throws. `len` must stay below
// 128 KiB per call so the 32-bit accumulator cannot overflow before folding (headers are at most 60 bytes).
inline uint32_t ChecksumAdd(uint32_t sum, const uint8_t* p, size_t len) {
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += LoadBe16(p + i);
  if (i < len) sum += static_cast<uint32_t>(p[i]) << 8;
  return sum;
}

// Adds a 16-bit host-order value to the accumulator.
inline uint32_t ChecksumAdd16(uint32_t sum, uint32_t v) { return sum + (v & 0xffffu); }

// Adds a 32-bit host-order value (as two 16-bit words) to the accumulator.
inline uint32_t ChecksumAdd32(uint32_t sum, uint32_t v) { return sum + (v >> 16) + (v & 0xffffu); }

// Folds the accumulator to 16 bits and returns its ones-complement: the value to store in a checksum field
// (host order; store big-endian).
inline uint16_t ChecksumFinish(uint32_t sum) {
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffu);
}

// Checksum of a whole buffer (e.g. an IPv4 header whose checksum field is zero). Returns the field value.
uint16_t InternetChecksum(const uint8_t* p, size_t len);

}  // namespace netshare
