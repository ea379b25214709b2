// Byte-order loads and stores shared by the reader, the formats, the decoder, the writer and the checksums.
#pragma once
#include <cstdint>
#include <cstring>

namespace netshare {

// Network (big-endian) and little-endian values at `p`, any alignment. Written byte by byte: the compiler turns
// each into one load (+ bswap), and the result does not depend on the host's byte order.
inline uint16_t LoadBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t LoadBe32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) | (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline uint16_t LoadLe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t LoadLe32(const uint8_t* p) {
  return p[0] | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// Stores the low 16 / all 32 bits of `v` big-endian at `p`.
inline void StoreBe16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Capture files (pcap, pcapng) are written in the writer's byte order and say which by their magic: a reader takes
// each field in host order and swaps it when the file's order is the other one (`swapped`).
inline uint16_t Swap16If(uint16_t v, bool swapped) { return swapped ? __builtin_bswap16(v) : v; }
inline uint32_t Swap32If(uint32_t v, bool swapped) { return swapped ? __builtin_bswap32(v) : v; }
inline uint16_t LoadFile16(const uint8_t* p, bool swapped) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return Swap16If(v, swapped);
}
inline uint32_t LoadFile32(const uint8_t* p, bool swapped) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return Swap32If(v, swapped);
}
inline uint64_t LoadFile64(const uint8_t* p, bool swapped) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return swapped ? __builtin_bswap64(v) : v;
}
// A 64-bit value stored as two 32-bit words in file order, high word first (pcapng packet timestamps).
inline uint64_t LoadFile64Split(const uint8_t* p, bool swapped) {
  return (static_cast<uint64_t>(LoadFile32(p, swapped)) << 32) | LoadFile32(p + 4, swapped);
}

// Stores `v` in the host's byte order (the order the writer writes capture files in).
inline void StoreHost16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void StoreHost32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

}  // namespace netshare
