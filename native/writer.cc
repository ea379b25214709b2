// pcap / pcapng writer: encodes packet-column rows as records into a large buffer and writes it out in big chunks.
#include "writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "byte_order.h"
#include "checksum.h"

namespace netshare {
namespace {

constexpr uint32_t kSnaplen = 262144;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIpv6Frag = 44;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr size_t kBufferBytes = 8u << 20;

[[noreturn]] void Bad(const char* what, const char* column, size_t row, double value) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "Expected %s for %s[%zu] but received %.17g", what, column, row, value);
  throw WriterInputError(buf, row);
}

// Bytes of transport header the writer emits for `proto` on IP version `v` (0: none).
inline size_t L4HeaderLen(uint8_t proto, uint8_t v) {
  switch (proto) {
    case kProtoTcp: return 20;
    case kProtoUdp: return 8;
    case kProtoIcmp: return v == 4 ? 8 : 0;
    case kProtoIcmpv6: return v == 6 ? 8 : 0;
    default: return 0;
  }
}

// Writes the L4 header at `l4` and fills in its checksum. `pseudo` is the unfolded sum of the pseudo-header
// (0 for ICMPv4, which has none). The payload is all zero, so it adds nothing to any checksum.
inline void EncodeL4(const PacketColumns& c, size_t i, uint8_t proto, uint32_t l4_total, uint32_t pseudo, uint8_t* l4) {
  if (proto == kProtoTcp) {
    StoreBe16(l4, c.src_port[i]);
    StoreBe16(l4 + 2, c.dst_port[i]);
    std::memset(l4 + 4, 0, 8);  // seq, ack
    l4[12] = 5 << 4;             // data offset: 20 bytes, no options
    l4[13] = c.tcp_flags[i];
    StoreBe16(l4 + 14, c.tcp_window[i]);
    StoreBe16(l4 + 16, 0);
    StoreBe16(l4 + 18, 0);  // urgent pointer
    uint32_t s = pseudo;
    s += c.src_port[i];
    s += c.dst_port[i];
    s += LoadBe16(l4 + 12);
    s += c.tcp_window[i];
    StoreBe16(l4 + 16, ChecksumFinish(s));
  } else if (proto == kProtoUdp) {
    StoreBe16(l4, c.src_port[i]);
    StoreBe16(l4 + 2, c.dst_port[i]);
    StoreBe16(l4 + 4, l4_total);
    uint32_t s = pseudo + c.src_port[i] + c.dst_port[i] + l4_total;
    uint16_t sum = ChecksumFinish(s);
    StoreBe16(l4 + 6, sum == 0 ? 0xffff : sum);  // 0 means "no checksum" in UDP
  } else {  // ICMP / ICMPv6: type, code, checksum, 4 zero bytes
    if (c.src_port[i] > 255) Bad("an ICMP type 0..255 (srcPort)", "srcPort", i, c.src_port[i]);
    if (c.dst_port[i] > 255) Bad("an ICMP code 0..255 (dstPort)", "dstPort", i, c.dst_port[i]);
    l4[0] = static_cast<uint8_t>(c.src_port[i]);
    l4[1] = static_cast<uint8_t>(c.dst_port[i]);
    std::memset(l4 + 2, 0, 6);
    StoreBe16(l4 + 2, ChecksumFinish(pseudo + LoadBe16(l4)));
  }
}

// Encodes the IP packet of row `i` at `p`. Returns the header bytes written (the captured length in
// header-only mode); `*total` receives the IP total length.
inline size_t EncodeIp(const PacketColumns& c, size_t i, uint8_t* p, uint32_t* total) {
  const uint8_t v = c.ip_version[i];
  const uint8_t proto = c.proto[i];
  const uint32_t fo = c.frag_offset[i];
  const uint32_t fl = c.flags[i];
  const uint32_t len = c.pkt_len[i];
  if (fo > 8191) Bad("a fragment offset 0..8191", "fragOffset", i, fo);
  const size_t l4 = fo == 0 ? L4HeaderLen(proto, v) : 0;  // non-first fragments carry no L4 header
  *total = len;
  if (v == 4) {
    const uint32_t ihl = c.ihl[i] == 0 ? 20 : c.ihl[i];
    if (ihl < 20 || ihl > 60 || ihl % 4 != 0) Bad("an IPv4 header length 20..60, multiple of 4", "ihl", i, ihl);
    if (fl > 7) Bad("IPv4 flags 0..7", "flags", i, fl);
    if (c.ip_id[i] > 0xffff) Bad("an IPv4 id 0..65535", "ipId", i, c.ip_id[i]);
    if (len < ihl + l4 || len > 65535) {
      char what[96];
      std::snprintf(what, sizeof what, "an IPv4 total length %zu..65535 (headers of proto %u)", ihl + l4, proto);
      Bad(what, "pktLen", i, len);
    }
    p[0] = static_cast<uint8_t>(0x40 | (ihl >> 2));
    p[1] = c.tos[i];
    StoreBe16(p + 2, len);
    StoreBe16(p + 4, c.ip_id[i]);
    StoreBe16(p + 6, fl << 13 | fo);
    p[8] = c.ttl[i];
    p[9] = proto;
    StoreBe16(p + 10, 0);
    StoreBe32(p + 12, c.src_ip[i]);
    StoreBe32(p + 16, c.dst_ip[i]);
    if (ihl > 20) std::memset(p + 20, 0, ihl - 20);  // option bytes: End of Option List
    // Header checksum: the words are known, so sum them without re-reading the bytes (options are zero).
    uint32_t s = (static_cast<uint32_t>(p[0]) << 8 | p[1]) + len + (c.ip_id[i] & 0xffff) + (fl << 13 | fo) +
                 (static_cast<uint32_t>(p[8]) << 8 | proto);
    const uint32_t addr = ChecksumAdd32(0, c.src_ip[i]) + ChecksumAdd32(0, c.dst_ip[i]);
    StoreBe16(p + 10, ChecksumFinish(s + addr));
    if (l4 != 0) {
      const uint32_t l4_total = len - ihl;
      const uint32_t pseudo = proto == kProtoIcmp ? 0 : addr + proto + l4_total;
      EncodeL4(c, i, proto, l4_total, pseudo, p + ihl);
    }
    return ihl + l4;
  }
  if (v == 6) {
    if (c.src_ip6 == nullptr || c.dst_ip6 == nullptr) Bad("srcIp6/dstIp6 columns for an IPv6 row", "ipVersion", i, v);
    if (fl > 1) Bad("IPv6 flags 0 or 1 (only MF exists in IPv6)", "flags", i, fl);
    // The column holds the upper-layer protocol; these numbers would be read back as extension headers.
    if (proto == 0 || proto == 43 || proto == kProtoIpv6Frag || proto == 60)
      Bad("an upper-layer protocol for IPv6 (not extension header 0, 43, 44 or 60)", "proto", i, proto);
    const bool frag = fo != 0 || fl != 0;
    const size_t ext = frag ? 8 : 0;
    if (len < 40 + ext + l4 || len > 65535 + 40) {
      char what[96];
      std::snprintf(what, sizeof what, "an IPv6 total length %zu..65575 (headers of proto %u)", 40 + ext + l4, proto);
      Bad(what, "pktLen", i, len);
    }
    const uint32_t tc = c.tos[i];
    StoreBe32(p, 6u << 28 | tc << 20);  // flow label 0
    StoreBe16(p + 4, len - 40);
    p[6] = frag ? kProtoIpv6Frag : proto;
    p[7] = c.ttl[i];
    std::memcpy(p + 8, c.src_ip6 + 16 * i, 16);
    std::memcpy(p + 24, c.dst_ip6 + 16 * i, 16);
    if (frag) {
      uint8_t* f = p + 40;
      f[0] = proto;
      f[1] = 0;
      StoreBe16(f + 2, fo << 3 | fl);
      StoreBe32(f + 4, c.ip_id[i]);
    }
    if (l4 != 0) {
      const uint32_t l4_total = len - 40 - static_cast<uint32_t>(ext);
      uint32_t pseudo = ChecksumAdd(0, p + 8, 32) + ChecksumAdd32(0, l4_total) + proto;
      EncodeL4(c, i, proto, l4_total, pseudo, p + 40 + ext);
    }
    return 40 + ext + l4;
  }
  Bad("IP version 4 or 6", "ipVersion", i, v);
}

}  // namespace

namespace {

// Row `i`'s exact ns when the table carries them and they agree with its µs time `t` (whole µs within 1: the µs are
// the ns divided by 1000 in float64), else -1. Bounded like `t` (< 2^32 s) so the pcap seconds field cannot overflow.
inline int64_t ExactNs(const PacketColumns& c, size_t i, double t) {
  if (c.time_ns == nullptr) return -1;
  const int64_t ns = c.time_ns[i];
  if (ns < 0 || ns >= int64_t{4294967296} * 1000000000) return -1;
  const int64_t d = ns / 1000 - static_cast<int64_t>(std::floor(t));
  return d >= -1 && d <= 1 ? ns : -1;
}

}  // namespace

bool HasSubMicrosecondTimes(const PacketColumns& c) {
  if (c.time_ns == nullptr) return false;
  for (size_t i = 0; i < c.n; i++) {
    const double t = c.time_us[i];
    if (!(t >= 0.0 && t < 4294967296e6)) continue;  // EncodeRecord rejects the row
    const int64_t ns = ExactNs(c, i, t);
    if (ns >= 0 && ns % 1000 != 0) return true;
  }
  return false;
}

void CheckColumns(const PacketColumns& c) {
  const void* need[] = {c.time_us, c.ip_version, c.src_ip,  c.dst_ip, c.src_port, c.dst_port,  c.proto,
                        c.pkt_len, c.ihl,        c.tos,     c.ip_id,  c.flags,    c.frag_offset, c.ttl,
                        c.tcp_flags, c.tcp_window};
  if (c.n == 0) return;
  for (const void* p : need)
    if (p == nullptr) throw WriterInputError("Expected every PacketTable column for the writer but one is missing", 0);
}

size_t EncodeFileHeader(const WriterOptions& opt, uint8_t* out) {
  if (opt.format == FileFormat::kPcap) {
    StoreHost32(out, opt.nanosecond ? 0xa1b23c4du : 0xa1b2c3d4u);
    StoreHost16(out + 4, 2);
    StoreHost16(out + 6, 4);
    StoreHost32(out + 8, 0);   // thiszone
    StoreHost32(out + 12, 0);  // sigfigs
    StoreHost32(out + 16, kSnaplen);
    StoreHost32(out + 20, opt.linktype);
    return 24;
  }
  // Section Header Block (28 bytes, no options).
  StoreHost32(out, 0x0a0d0d0au);
  StoreHost32(out + 4, 28);
  StoreHost32(out + 8, 0x1a2b3c4du);
  StoreHost16(out + 12, 1);
  StoreHost16(out + 14, 0);
  std::memset(out + 16, 0xff, 8);  // section length: unknown
  StoreHost32(out + 24, 28);
  // Interface Description Block with if_tsresol (32 bytes).
  uint8_t* b = out + 28;
  StoreHost32(b, 1);
  StoreHost32(b + 4, 32);
  StoreHost16(b + 8, static_cast<uint16_t>(opt.linktype));
  StoreHost16(b + 10, 0);
  StoreHost32(b + 12, kSnaplen);
  StoreHost16(b + 16, 9);  // if_tsresol
  StoreHost16(b + 18, 1);
  b[20] = opt.nanosecond ? 9 : 6;
  b[21] = b[22] = b[23] = 0;
  StoreHost32(b + 24, 0);  // opt_endofopt
  StoreHost32(b + 28, 32);
  return 60;
}

size_t EncodeRecord(const PacketColumns& c, size_t i, const WriterOptions& opt, uint8_t* out) {
  const double t = c.time_us[i];
  if (!(t >= 0.0 && t < 4294967296e6)) Bad("a time in µs since 1970 before 2106 (finite, >= 0)", "time", i, t);
  const bool ng = opt.format == FileFormat::kPcapng;
  uint8_t* pkt = out + (ng ? 28 : 16);
  size_t link = 0;
  if (opt.linktype == kLinktypeEthernet) {
    static const uint8_t kMacs[12] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};  // locally administered
    std::memcpy(pkt, kMacs, 12);
    StoreBe16(pkt + 12, c.ip_version[i] == 6 ? 0x86dd : 0x0800);
    link = 14;
  }
  uint32_t total = 0;
  const size_t hdr = EncodeIp(c, i, pkt + link, &total);
  const uint32_t orig = static_cast<uint32_t>(link + total);
  uint32_t cap = static_cast<uint32_t>(link + hdr);
  if (opt.mode == RecordMode::kFull) {
    std::memset(pkt + cap, 0, orig - cap);
    cap = orig;
  }
  // Timestamp in the file's units: the row's exact ns when the table has them, else its µs rounded to the unit.
  // Split off whole µs first: t * 1000 at current epochs (~1.5e18) is beyond float64's integer precision.
  uint64_t units;
  const int64_t ns = ExactNs(c, i, t);
  if (ns >= 0) {
    units = opt.nanosecond ? static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns + 500) / 1000;
  } else {
    const double whole = std::floor(t);
    const uint64_t us = static_cast<uint64_t>(whole);
    units = opt.nanosecond ? us * 1000 + static_cast<uint64_t>((t - whole) * 1000.0 + 0.5) : us + (t - whole >= 0.5 ? 1 : 0);
  }
  if (!ng) {
    const uint64_t per_s = opt.nanosecond ? 1000000000ull : 1000000ull;
    StoreHost32(out, static_cast<uint32_t>(units / per_s));
    StoreHost32(out + 4, static_cast<uint32_t>(units % per_s));
    StoreHost32(out + 8, cap);
    StoreHost32(out + 12, orig);
    return 16 + cap;
  }
  const uint32_t padded = (cap + 3) & ~3u;
  std::memset(pkt + cap, 0, padded - cap);
  const uint32_t block = 32 + padded;
  StoreHost32(out, 6);
  StoreHost32(out + 4, block);
  StoreHost32(out + 8, 0);  // interface 0
  StoreHost32(out + 12, static_cast<uint32_t>(units >> 32));
  StoreHost32(out + 16, static_cast<uint32_t>(units));
  StoreHost32(out + 20, cap);
  StoreHost32(out + 24, orig);
  StoreHost32(pkt + padded, block);
  return block;
}

namespace {
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

void WriteAll(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw WriterIoError("cannot write " + path + ": " + std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Writes filled buffers on a second thread so encoding the next buffer overlaps the write() of the previous one.
class AsyncFileWriter {
 public:
  AsyncFileWriter(int fd, const std::string& path) : fd_(fd), path_(path), thread_([this] { Run(); }) {}
  ~AsyncFileWriter() { Finish(); }

  // Queues `n` bytes at `p` (the buffer must stay untouched until Wait() says it is free). Throws the I/O
  // error of an earlier write, if any.
  void Submit(const uint8_t* p, size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return pending_ == nullptr; });
    if (!error_.empty()) throw WriterIoError(error_);
    pending_ = p;
    pending_n_ = n;
    cv_.notify_all();
  }
  // Blocks until the queued buffer has been written.
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return pending_ == nullptr; });
    if (!error_.empty()) throw WriterIoError(error_);
  }
  // Stops the thread (after the queued write). Safe to call twice.
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (done_) return;
      done_ = true;
      cv_.notify_all();
    }
    thread_.join();
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return pending_ != nullptr || done_; });
      if (pending_ == nullptr) return;
      const uint8_t* p = pending_;
      const size_t n = pending_n_;
      lock.unlock();
      std::string err;
      try {
        WriteAll(fd_, p, n, path_);
      } catch (const std::exception& e) {
        err = e.what();
      }
      lock.lock();
      if (!err.empty() && error_.empty()) error_ = err;
      pending_ = nullptr;
      cv_.notify_all();
    }
  }

  int fd_;
  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  const uint8_t* pending_ = nullptr;
  size_t pending_n_ = 0;
  bool done_ = false;
  std::string error_;
  std::thread thread_;  // last: starts after the fields above are initialised
};
}  // namespace

WriteResult WritePacketsToFile(const std::string& path, const PacketColumns& cols, const WriterOptions& options) {
  CheckColumns(cols);
  WriterOptions opt = options;
  if (opt.nanosecond_auto) opt.nanosecond = HasSubMicrosecondTimes(cols);
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) throw WriterIoError("cannot create " + path + ": " + std::strerror(errno));
  // Two buffers: one is encoded into while the other is being written.
  std::unique_ptr<uint8_t[]> bufs[2] = {std::unique_ptr<uint8_t[]>(new uint8_t[kBufferBytes]),
                                        std::unique_ptr<uint8_t[]>(new uint8_t[kBufferBytes])};
  int cur = 0;
  uint8_t* buf = bufs[0].get();
  size_t pos = EncodeFileHeader(opt, buf);
  WriteResult res;
  {
    AsyncFileWriter io(fd.get(), path);
    for (size_t i = 0; i < cols.n; i++) {
      if (pos + kMaxRecordBytes > kBufferBytes) {
        io.Submit(buf, pos);  // waits for the other buffer's write first
        res.bytes += pos;
        cur ^= 1;
        buf = bufs[cur].get();
        pos = 0;
      }
      pos += EncodeRecord(cols, i, opt, buf + pos);
    }
    io.Submit(buf, pos);
    res.bytes += pos;
    io.Wait();
    io.Finish();
  }
  res.packets = cols.n;
  res.nanosecond = opt.nanosecond;
  if (::close(fd.release()) != 0) throw WriterIoError("cannot close " + path + ": " + std::strerror(errno));
  return res;
}

}  // namespace netshare
