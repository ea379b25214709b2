// libFuzzer harness for the writer: the input is decoded as one row of packet columns; rows the writer accepts must
// encode within kMaxRecordBytes and decode back (DecodePacket) to the same header fields. Build + run: run.sh.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "decode.h"
#include "writer.h"

namespace {
template <typename T>
T Take(const uint8_t*& p, size_t& n) {
  T v{};
  const size_t k = n < sizeof(T) ? n : sizeof(T);
  std::memcpy(&v, p, k);
  p += k;
  n -= k;
  return v;
}
}  // namespace
#define Check(ok)                                                             \
  do {                                                                        \
    if (!(ok)) {                                                              \
      std::fprintf(stderr, "fuzz_writer: check failed at line %d: %s\n", __LINE__, #ok); \
      std::abort();                                                           \
    }                                                                         \
  } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* p = data;
  size_t n = size;
  double time = static_cast<double>(Take<uint32_t>(p, n)) * 1e6 + Take<uint32_t>(p, n) % 1000000;
  uint8_t version = (Take<uint8_t>(p, n) & 1) ? 6 : 4;
  uint32_t src = Take<uint32_t>(p, n), dst = Take<uint32_t>(p, n);
  uint8_t src6[16], dst6[16];
  for (auto& b : src6) b = Take<uint8_t>(p, n);
  for (auto& b : dst6) b = Take<uint8_t>(p, n);
  uint16_t sport = Take<uint16_t>(p, n), dport = Take<uint16_t>(p, n);
  uint8_t proto = Take<uint8_t>(p, n);
  uint32_t len = Take<uint16_t>(p, n) + (Take<uint8_t>(p, n) & 1 ? 40 : 0);
  uint8_t ihl = Take<uint8_t>(p, n), tos = Take<uint8_t>(p, n);
  uint32_t id = Take<uint32_t>(p, n);
  uint8_t flags = Take<uint8_t>(p, n) & 7;
  uint16_t frag = Take<uint16_t>(p, n) & 0x3fff;
  uint8_t ttl = Take<uint8_t>(p, n), tcp_flags = Take<uint8_t>(p, n);
  uint16_t window = Take<uint16_t>(p, n);
  const uint8_t mode = Take<uint8_t>(p, n);
  // Exact ns beside the µs time (as tables from readPacketTable carry): near it (mode & 32) or anything.
  int64_t tns = Take<int64_t>(p, n);
  if (mode & 32) tns = static_cast<int64_t>(std::floor(time)) * 1000 + tns % 3000;

  netshare::PacketColumns c;
  c.n = 1;
  c.time_us = &time;
  c.ip_version = &version;
  c.src_ip = &src;
  c.dst_ip = &dst;
  c.src_ip6 = src6;
  c.dst_ip6 = dst6;
  c.src_port = &sport;
  c.dst_port = &dport;
  c.proto = &proto;
  c.pkt_len = &len;
  c.ihl = &ihl;
  c.tos = &tos;
  c.ip_id = &id;
  c.flags = &flags;
  c.frag_offset = &frag;
  c.ttl = &ttl;
  c.tcp_flags = &tcp_flags;
  c.tcp_window = &window;
  if (mode & 16) c.time_ns = &tns;
  netshare::WriterOptions opt;
  opt.format = (mode & 1) ? netshare::FileFormat::kPcapng : netshare::FileFormat::kPcap;
  opt.mode = (mode & 2) ? netshare::RecordMode::kFull : netshare::RecordMode::kHeaderOnly;
  opt.nanosecond = (mode & 4) != 0;
  opt.linktype = (mode & 8) ? netshare::kLinktypeEthernet : netshare::kLinktypeRaw;

  static std::vector<uint8_t> out(netshare::kMaxRecordBytes + 64);
  size_t w = 0;
  try {
    w = netshare::EncodeRecord(c, 0, opt, out.data());
  } catch (const netshare::WriterInputError&) {
    return 0;  // a row the writer refuses, with a message
  }
  Check(w <= netshare::kMaxRecordBytes);
  const bool ng = opt.format == netshare::FileFormat::kPcapng;
  uint32_t caplen, wire;
  std::memcpy(&caplen, out.data() + (ng ? 20 : 8), 4);
  std::memcpy(&wire, out.data() + (ng ? 24 : 12), 4);
  Check(caplen <= wire && (ng ? 32 + ((caplen + 3) & ~3u) : 16 + caplen) == w);
  // The timestamp: within rounding of `time` always; exactly the ns when they agree with it (ExactNs's rule).
  uint64_t units;
  if (ng) {
    uint32_t hi, lo;
    std::memcpy(&hi, out.data() + 12, 4);
    std::memcpy(&lo, out.data() + 16, 4);
    units = static_cast<uint64_t>(hi) << 32 | lo;
  } else {
    uint32_t sec, frac;
    std::memcpy(&sec, out.data(), 4);
    std::memcpy(&frac, out.data() + 4, 4);
    Check(frac < (opt.nanosecond ? 1000000000u : 1000000u));
    units = static_cast<uint64_t>(sec) * (opt.nanosecond ? 1000000000u : 1000000u) + frac;
  }
  const double written_ns = static_cast<double>(units) * (opt.nanosecond ? 1.0 : 1000.0);
  Check(std::fabs(written_ns - time * 1000.0) <= 3100.0);  // 2 µs of agreement + µs rounding + float64 ulp
  const int64_t d_us = tns / 1000 - static_cast<int64_t>(std::floor(time));
  if ((mode & 16) && tns >= 0 && tns < int64_t{4294967296} * 1000000000 && d_us >= -1 && d_us <= 1)
    Check(units == (opt.nanosecond ? static_cast<uint64_t>(tns) : static_cast<uint64_t>(tns + 500) / 1000));
  netshare::DecodedPacket d;
  netshare::DecodePacket(static_cast<int>(opt.linktype), out.data() + (ng ? 28 : 16), caplen, wire, d);
  Check(d.status <= netshare::kStatusTruncated);
  Check(d.ip_version == version);
  Check(d.proto == proto);
  Check(d.pkt_len == len);
  Check(d.tos == tos);
  Check(d.ttl == ttl);
  Check(d.frag_offset == frag);
  Check(d.flags == flags);
  if (version == 4) Check(d.src4 == src && d.dst4 == dst && d.ip_id == id && d.ihl == (ihl == 0 ? 20 : ihl));
  else Check(std::memcmp(d.src6, src6, 16) == 0 && std::memcmp(d.dst6, dst6, 16) == 0 && (flags == 0 && frag == 0 || d.ip_id == id));
  if (frag == 0 && (proto == 6 || proto == 17)) Check(d.src_port == sport && d.dst_port == dport);
  if (frag == 0 && proto == 6) Check(d.tcp_flags == tcp_flags && d.tcp_window == window);
  return 0;
}
