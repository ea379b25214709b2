// Reader implementation: format sniffing, gzip via fopencookie, classic pcap (header checked by libpcap, records parsed
// here), an own pcapng block parser (libpcap 1.10 allows one link type per handle and hides interface ids), BPF filtering, batch filling.
#include "reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

namespace netshare {
namespace {

#ifdef __GLIBC__
#define NS_FREAD fread_unlocked
#else
#define NS_FREAD fread
#endif

constexpr uint32_t kMaxBlock = 256u << 20;  // largest pcapng block accepted (guards absurd lengths)

std::string Hex4(const uint8_t* b, size_t n) {
  char buf[32];
  std::string s;
  for (size_t i = 0; i < n; i++) {
    std::snprintf(buf, sizeof buf, i ? " %02x" : "%02x", b[i]);
    s += buf;
  }
  return s;
}

// ---- the input stream: a read-only FILE* over a file descriptor or a gzFile, counting delivered bytes ----
// libpcap reads through stdio; counting what the cookie hands to stdio (minus what stdio still buffers) gives the
// exact stream position per record without an lseek syscall (ftell costs one per call).
struct StreamCookie {
  int fd = -1;
  gzFile gz = nullptr;
  uint64_t delivered = 0;
};

ssize_t CookieRead(void* cookie, char* buf, size_t size) {
  auto* c = static_cast<StreamCookie*>(cookie);
  if (c->gz) {
    const int n = gzread(c->gz, buf, static_cast<unsigned>(size > (1u << 30) ? (1u << 30) : size));
    int zerr = Z_OK;
    if (n == 0) gzerror(c->gz, &zerr);  // a truncated stream reads as a short EOF and sets Z_BUF_ERROR
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
      errno = EIO;
      return -1;
    }
    c->delivered += static_cast<uint64_t>(n);
    return n;
  }
  for (;;) {
    const ssize_t n = ::read(c->fd, buf, size);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) c->delivered += static_cast<uint64_t>(n);
    return n;
  }
}
int CookieClose(void* cookie) {
  auto* c = static_cast<StreamCookie*>(cookie);
  const int rc = c->gz ? (gzclose(c->gz) == Z_OK ? 0 : -1) : ::close(c->fd);
  delete c;
  return rc;
}

// Stream position of the next byte stdio will hand out; -1 when unknown (non-glibc).
int64_t StreamPos(FILE* f, const StreamCookie* c) {
#ifdef __GLIBC__
  return static_cast<int64_t>(c->delivered) - static_cast<int64_t>(f->_IO_read_end - f->_IO_read_ptr);
#else
  (void)f;
  (void)c;
  return -1;
#endif
}

// ---- classic pcap: libpcap checks the file header; records are parsed here from large buffered reads ----
// libpcap reads every record with two small freads (header, data) through stdio, which costs more than decoding the
// packet. This source does the same per-record work as libpcap 1.10's pcap_next_packet (byte order, µs/ns scaling,
// caplen/len swap for versions < 2.4, the sanity limit and snapshot cut, the same error texts) on a 4 MiB buffer
// filled by pread (plain files) or fread (the gzip stream), and knows each record's exact byte offset.
class PcapSource final : public RecordSource {
 public:
  // `fd` >= 0: plain file read with pread from offset 24; -1: read the rest of `f` (gzip) after libpcap's header read.
  PcapSource(pcap_t* p, FILE* f, int fd, bool nano, int record_header) : p_(p), f_(f), fd_(fd), record_header_(record_header) {
    linktype_ = pcap_datalink(p);  // LINKTYPE_RAW (101) comes back as DLT_RAW (12); the decoder knows both
    snaplen_ = static_cast<uint32_t>(pcap_snapshot(p));
    swapped_ = pcap_is_swapped(p) == 1;
    scale_up_ = !nano;
    const int major = pcap_major_version(p), minor = pcap_minor_version(p);
    lengths_ = major == 2 ? (minor < 3 ? kSwapped : minor == 3 ? kMaybe : kNotSwapped) : major == 543 ? kSwapped : kNotSwapped;
    // max_snaplen_for_dlt: DBUS 128 MiB, EBHSCR 8 MiB, USBPCAP 1 MiB, else MAXIMUM_SNAPLEN.
    max_caplen_ = linktype_ == 231 ? 128u << 20 : linktype_ == 279 ? 8u << 20 : linktype_ == 249 ? 1u << 20 : 262144u;
    fast_caplen_ = std::min(snaplen_, max_caplen_);
    buf_.resize(kChunk);
  }
  ~PcapSource() override { pcap_close(p_); }

  // Fast path (inlined into Reader::Fill): a whole record in the buffer, caplen within the snapshot length.
  __attribute__((always_inline)) bool Next(RawRecord& r) override {
    const size_t hs = static_cast<size_t>(record_header_);
    const size_t avail = end_ - pos_;
    if (__builtin_expect(avail >= hs, 1)) {
      uint32_t w[4];
      std::memcpy(w, buf_.data() + pos_, 16);
      if (swapped_)
        for (uint32_t& x : w) x = __builtin_bswap32(x);
      uint32_t caplen = w[2], len = w[3];
      if (lengths_ != kNotSwapped && (lengths_ == kSwapped || caplen > len)) std::swap(caplen, len);
      if (__builtin_expect(caplen <= fast_caplen_ && avail - hs >= caplen, 1)) {
        Emit(r, w, caplen, len, hs);
        return true;
      }
    }
    return NextSlow(r);
  }

  __attribute__((noinline)) bool NextSlow(RawRecord& r) {
    const size_t hs = static_cast<size_t>(record_header_);
    if (end_ - pos_ < hs && Ensure(hs) < hs) {
      const size_t got = end_ - pos_;
      if (got == 0 && !error_) return false;
      throw Bad(error_ ? ReadErrorText() : "truncated dump file; tried to read " + std::to_string(hs) + " header bytes, only got " + std::to_string(got));
    }
    const uint8_t* h = buf_.data() + pos_;
    uint32_t w[4];
    std::memcpy(w, h, 16);
    if (swapped_)
      for (uint32_t& x : w) x = __builtin_bswap32(x);
    uint32_t caplen = w[2], len = w[3];
    if (lengths_ != kNotSwapped && (lengths_ == kSwapped || caplen > len)) std::swap(caplen, len);
    if (caplen > max_caplen_) {
      throw Bad(caplen > snaplen_ ? "invalid packet capture length " + std::to_string(caplen) + ", bigger than snaplen of " + std::to_string(static_cast<int>(snaplen_))
                                  : "invalid packet capture length " + std::to_string(caplen) + ", bigger than maximum of " + std::to_string(max_caplen_));
    }
    const size_t need = hs + caplen;
    if (end_ - pos_ < need && Ensure(need) < need) {
      const size_t got = end_ - pos_ - hs;
      if (error_) throw Bad(ReadErrorText());
      if (caplen > snaplen_ && got < snaplen_)
        throw Bad("truncated dump file; tried to read " + std::to_string(static_cast<int>(snaplen_)) + " captured bytes, only got " + std::to_string(got));
      throw Bad("truncated dump file; tried to read " + std::to_string(caplen) + " captured bytes, only got " + std::to_string(got));
    }
    Emit(r, w, caplen, len, hs);  // Ensure may have moved the buffer since `h`
    return true;
  }
  // Offset of the next record (of the record that failed, after an error).
  int64_t Offset() const override { return buf_off_ + static_cast<int64_t>(pos_); }

 private:
  static constexpr size_t kChunk = 4u << 20;

  // Hands out the record at pos_ (its header words already in host order) and steps past it.
  __attribute__((always_inline)) void Emit(RawRecord& r, const uint32_t* w, uint32_t caplen, uint32_t len, size_t hs) {
    r.sec = static_cast<int32_t>(w[0]);
    const int64_t frac = static_cast<int32_t>(w[1]);
    r.nsec = static_cast<uint32_t>(scale_up_ ? frac * 1000 : frac);  // nanoseconds, as libpcap opened NANO gives
    r.file_caplen = caplen;
    r.caplen = caplen > snaplen_ ? snaplen_ : caplen;  // libpcap keeps the snapshot length and skips the rest
    r.len = len;
    r.data = buf_.data() + pos_ + hs;
    r.linktype = linktype_;
    r.iface = 0;
    r.snaplen = snaplen_;
    pos_ += hs + caplen;
  }
  enum Lengths { kNotSwapped, kSwapped, kMaybe };

  ReaderError Bad(const std::string& msg) const {
    return ReaderError("input", "bad pcap record at byte offset " + std::to_string(Offset()) + ": " + msg, Offset());
  }
  std::string ReadErrorText() const { return std::string("error reading dump file: ") + std::strerror(errno_ ? errno_ : EIO); }

  // Makes at least `need` bytes available from pos_ (fewer only at end of input or on a read error); returns them.
  size_t Ensure(size_t need) {
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      buf_off_ += static_cast<int64_t>(pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    if (buf_.size() < need) buf_.resize(need);
    while (end_ < need && !eof_ && !error_) {
      const size_t want = buf_.size() - end_;
      size_t got;
      if (fd_ >= 0) {
        ssize_t n;
        do n = ::pread(fd_, buf_.data() + end_, want, file_pos_);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
          errno_ = errno;
          error_ = true;
          break;
        }
        got = static_cast<size_t>(n);
        file_pos_ += n;
        if (n == 0) eof_ = true;
      } else {
        got = NS_FREAD(buf_.data() + end_, 1, want, f_);
        if (got < want) {
          if (std::ferror(f_)) {
            errno_ = errno;
            error_ = true;
          } else {
            eof_ = true;
          }
        }
      }
      end_ += got;
    }
    return end_;
  }

  pcap_t* p_;
  FILE* f_;
  int fd_;
  int record_header_;
  int linktype_;
  uint32_t snaplen_, max_caplen_, fast_caplen_;
  bool swapped_, scale_up_;
  Lengths lengths_;
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, end_ = 0;
  int64_t buf_off_ = 24;   // stream offset of buf_[0]
  off_t file_pos_ = 24;    // next pread offset
  bool eof_ = false, error_ = false;
  int errno_ = 0;
};

// ---- pcapng block parser ----
class PcapngSource : public RecordSource {
 public:
  PcapngSource(FILE* f, ReaderStats& stats) : f_(f), stats_(stats) { buf_.resize(1 << 16); }
  ~PcapngSource() override { std::fclose(f_); }
  int64_t Offset() const override { return offset_; }

  bool Next(RawRecord& r) override {
    for (;;) {
      const int64_t start = offset_;
      uint8_t hdr[12];
      size_t got = NS_FREAD(hdr, 1, 8, f_);
      if (got == 0) {
        if (std::ferror(f_)) throw Err(start, "read error");
        if (!any_idb_) {
          ReaderError e = Err(start, "the pcapng file has no Interface Description Block");
          e.prefix_ok = false;
          throw e;
        }
        return false;
      }
      if (got < 8) throw Err(start, "truncated pcapng file: block header cut short (" + std::to_string(got) + " of 8 bytes)");
      offset_ += 8;
      uint32_t type = Rd32(hdr);
      uint32_t total;
      if (type == 0x0A0D0D0A) {  // SHB: byte order comes from the magic that follows
        if (NS_FREAD(hdr + 8, 1, 4, f_) != 4) throw Err(start, "truncated pcapng Section Header Block");
        offset_ += 4;
        const uint32_t bom = static_cast<uint32_t>(hdr[8]) | (hdr[9] << 8) | (hdr[10] << 16) | (static_cast<uint32_t>(hdr[11]) << 24);
        if (bom == 0x1A2B3C4D) swap_ = false;
        else if (bom == 0x4D3C2B1A) swap_ = true;
        else throw Err(start, "bad pcapng byte-order magic " + Hex4(hdr + 8, 4));
        total = Rd32(hdr + 4);
        if (total < 28 || total % 4 != 0 || total > kMaxBlock) throw Err(start, "invalid Section Header Block length " + std::to_string(total));
        ReadBody(start, total, 12);
        if (Rd16(buf_.data()) != 1) throw Err(start, "unsupported pcapng major version " + std::to_string(Rd16(buf_.data())));
        ifaces_.clear();
        continue;
      }
      if (offset_ == 8) throw Err(0, "not a pcapng file (first block is not a Section Header Block)");
      total = Rd32(hdr + 4);
      if (total < 12 || total % 4 != 0 || total > kMaxBlock)
        throw Err(start, "invalid pcapng block length " + std::to_string(total) + " (block type 0x" + HexU(type) + ")");
      ReadBody(start, total, 8);
      const uint8_t* b = buf_.data();
      const uint32_t body = total - 12;
      switch (type) {
        case 1: {  // IDB
          if (body < 8) throw Err(start, "Interface Description Block too short");
          Iface ifc;
          ifc.linktype = Rd16(b);
          ifc.snaplen = Rd32(b + 4);
          ParseIdbOptions(start, b + 8, body - 8, ifc);
          ifaces_.push_back(ifc);
          any_idb_ = true;
          bool seen = false;
          for (int lt : stats_.linktypes) seen |= lt == ifc.linktype;
          if (!seen) stats_.linktypes.push_back(ifc.linktype);
          continue;
        }
        case 6: {  // EPB
          if (body < 20) throw Err(start, "Enhanced Packet Block too short");
          const uint32_t ifid = Rd32(b), caplen = Rd32(b + 12), len = Rd32(b + 16);
          if (caplen > body - 20) throw Err(start, "Enhanced Packet Block captured length " + std::to_string(caplen) + " exceeds its block");
          const Iface& ifc = IfaceFor(start, ifid);
          Stamp(ifc, (static_cast<uint64_t>(Rd32(b + 4)) << 32) | Rd32(b + 8), r);
          Fill(r, ifc, ifid, b + 20, caplen, len);
          return true;
        }
        case 3: {  // SPB: no timestamp, interface 0
          if (body < 4) throw Err(start, "Simple Packet Block too short");
          const Iface& ifc = IfaceFor(start, 0);
          const uint32_t len = Rd32(b);
          uint32_t caplen = body - 4;
          if (len < caplen) caplen = len;
          if (ifc.snaplen != 0 && ifc.snaplen < caplen) caplen = ifc.snaplen;
          r.sec = 0;
          r.nsec = 0;
          Fill(r, ifc, 0, b + 4, caplen, len);
          return true;
        }
        case 2: {  // obsolete Packet Block
          if (body < 20) throw Err(start, "Packet Block too short");
          const uint32_t ifid = Rd16(b), caplen = Rd32(b + 12), len = Rd32(b + 16);
          if (caplen > body - 20) throw Err(start, "Packet Block captured length exceeds its block");
          const Iface& ifc = IfaceFor(start, ifid);
          Stamp(ifc, (static_cast<uint64_t>(Rd32(b + 4)) << 32) | Rd32(b + 8), r);
          Fill(r, ifc, ifid, b + 20, caplen, len);
          return true;
        }
        case 4: case 5: case 9: case 10: case 0x00000BAD: case 0x40000BAD:
          continue;  // name resolution, statistics, journal, secrets, custom: nothing to decode
        default:
          if (unknown_types_.size() < 8) {
            bool seen = false;
            for (uint32_t t : unknown_types_) seen |= t == type;
            if (!seen) {
              unknown_types_.push_back(type);
              stats_.warnings.push_back("skipped pcapng block of unknown type 0x" + HexU(type) + " at byte offset " + std::to_string(start));
            }
          }
          continue;
      }
    }
  }

 private:
  struct Iface {
    int linktype = 0;
    uint32_t snaplen = 0;
    bool pow2 = false;
    int exp = 6;
    uint64_t units = 1000000;  // timestamp units per second (decimal resolutions)
    int64_t offset_s = 0;
  };

  static std::string HexU(uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "%x", v);
    return b;
  }
  ReaderError Err(int64_t off, const std::string& msg) const {
    return ReaderError("input", msg + " at byte offset " + std::to_string(off), off);
  }
  uint16_t Rd16(const uint8_t* p) const {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return swap_ ? __builtin_bswap16(v) : v;
  }
  uint32_t Rd32(const uint8_t* p) const {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }

  // Reads the rest of a block (total - already bytes) into buf_ (body + trailing length) and checks the trailer.
  void ReadBody(int64_t start, uint32_t total, uint32_t already) {
    const uint32_t rest = total - already;
    if (buf_.size() < rest) buf_.resize(rest);
    const size_t got = NS_FREAD(buf_.data(), 1, rest, f_);
    offset_ += static_cast<int64_t>(got);
    if (got != rest) {
      if (std::ferror(f_)) throw Err(start, "read error in pcapng block");
      throw Err(start, "truncated pcapng file: block of " + std::to_string(total) + " bytes has only " +
                           std::to_string(already + got) + " before end of file");
    }
    if (Rd32(buf_.data() + rest - 4) != total) throw Err(start, "pcapng block trailing length does not match its header (corrupt block)");
  }

  void ParseIdbOptions(int64_t start, const uint8_t* p, uint32_t n, Iface& ifc) {
    uint32_t pos = 0;
    while (pos + 4 <= n) {
      const uint16_t code = Rd16(p + pos), len = Rd16(p + pos + 2);
      pos += 4;
      if (code == 0) break;
      if (pos + len > n) throw Err(start, "Interface Description Block option overruns its block");
      if (code == 9 && len >= 1) {
        const uint8_t v = p[pos];
        ifc.pow2 = v & 0x80;
        ifc.exp = v & 0x7f;
        if ((!ifc.pow2 && ifc.exp > 19) || (ifc.pow2 && ifc.exp > 63))
          throw Err(start, "unsupported if_tsresol 0x" + HexU(v));
        ifc.units = 1;
        if (!ifc.pow2)
          for (int i = 0; i < ifc.exp; i++) ifc.units *= 10;
      } else if (code == 14 && len >= 8) {
        uint64_t v = (static_cast<uint64_t>(Rd32(p + pos + (swap_ ? 0 : 4))) << 32) | Rd32(p + pos + (swap_ ? 4 : 0));
        ifc.offset_s = static_cast<int64_t>(v);
      }
      pos += (len + 3u) & ~3u;
    }
  }

  const Iface& IfaceFor(int64_t start, uint32_t id) const {
    if (id >= ifaces_.size())
      throw Err(start, "packet block refers to interface " + std::to_string(id) + " but the section has " +
                           std::to_string(ifaces_.size()));
    return ifaces_[id];
  }

  static void Stamp(const Iface& ifc, uint64_t ts, RawRecord& r) {
    uint64_t sec, frac_ns;
    if (ifc.pow2) {
      sec = ifc.exp == 0 ? ts : ts >> ifc.exp;
      const uint64_t frac = ifc.exp == 0 ? 0 : ts & ((uint64_t{1} << ifc.exp) - 1);
      frac_ns = static_cast<uint64_t>((static_cast<unsigned __int128>(frac) * 1000000000u) >> ifc.exp);
    } else if (ifc.units == 1000000) {
      sec = ts / 1000000;
      frac_ns = (ts % 1000000) * 1000;
    } else if (ifc.units == 1000000000) {
      sec = ts / 1000000000;
      frac_ns = ts % 1000000000;
    } else {
      sec = ts / ifc.units;
      frac_ns = static_cast<uint64_t>((static_cast<unsigned __int128>(ts % ifc.units) * 1000000000u) / ifc.units);
    }
    r.sec = static_cast<int64_t>(sec) + ifc.offset_s;
    r.nsec = static_cast<uint32_t>(frac_ns);
  }

  static void Fill(RawRecord& r, const Iface& ifc, uint32_t ifid, const uint8_t* data, uint32_t caplen, uint32_t len) {
    r.caplen = caplen;
    r.file_caplen = caplen;
    r.len = len;
    r.data = data;
    r.linktype = ifc.linktype;
    r.iface = static_cast<uint16_t>(ifid);
    r.snaplen = ifc.snaplen;
  }

  FILE* f_;
  ReaderStats& stats_;
  std::vector<uint8_t> buf_;
  std::vector<Iface> ifaces_;
  std::vector<uint32_t> unknown_types_;
  bool swap_ = false, any_idb_ = false;
  int64_t offset_ = 0;
};

int DltForLinktype(int lt) { return lt == 101 ? DLT_RAW : lt; }

}  // namespace

Reader::Reader(std::string path, ReaderOptions opts) : path_(std::move(path)), opts_(std::move(opts)) {}

Reader::~Reader() {
  source_.reset();  // closes the FILE* (and the gzFile behind a cookie)
  for (auto& f : filters_) pcap_freecode(&f.prog);
}

void Reader::Open() {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) throw ReaderError("input", std::string("cannot open: ") + std::strerror(errno), -1);
  if (S_ISDIR(st.st_mode)) throw ReaderError("input", "is a directory, not a capture file", -1);
  total_bytes_ = st.st_size;
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ReaderError("input", std::string("cannot open: ") + std::strerror(errno), -1);
  uint8_t magic[24] = {0};
  ssize_t got = ::pread(fd, magic, 24, 0);
  size_t n = got > 0 ? static_cast<size_t>(got) : 0;
  const bool gz = n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  auto* cookie = new StreamCookie;
  if (gz) {
    gzFile g = gzdopen(fd, "rb");
    if (!g) {
      ::close(fd);
      delete cookie;
      throw ReaderError("input", "cannot open gzip stream", 0);
    }
    gzbuffer(g, 1 << 18);
    n = static_cast<size_t>(std::max(0, gzread(g, magic, 24)));
    gzrewind(g);
    cookie->gz = g;
    gz_ = g;
  } else {
    cookie->fd = fd;
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  cookie_io_functions_t io{CookieRead, nullptr, nullptr, CookieClose};
  FILE* f = fopencookie(cookie, "rb", io);
  if (!f) {
    CookieClose(cookie);
    throw ReaderError("input", "cannot open a stream for the file", 0);
  }
  cookie_ = cookie;
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  file_ = f;
  if (n == 0) {
    std::fclose(f);
    throw ReaderError("input", gz ? "empty gzip content (no capture file header)" : "empty file (no capture file header)", 0);
  }
  const uint32_t m = static_cast<uint32_t>(magic[0]) << 24 | magic[1] << 16 | magic[2] << 8 | magic[3];
  const bool is_pcap = m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1 || m == 0xa1b2cd34 || m == 0x34cdb2a1;
  const bool is_ng = m == 0x0a0d0d0a;
  if (n < 4 || (!is_pcap && !is_ng)) {
    std::fclose(f);
    throw ReaderError("input", "unknown file format (first bytes " + Hex4(magic, n < 4 ? n : 4) + "): expected pcap, pcapng or gzip'd pcap" +
                                   (gz ? " inside the gzip stream" : ""), 0);
  }
  if (is_pcap) {
    char errbuf[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) {
      std::fclose(f);
      throw ReaderError("input", std::string("bad pcap file header: ") + errbuf, 0);
    }
    const bool modified = m == 0xa1b2cd34 || m == 0x34cdb2a1;  // Kuznetzov's pcap: 24-byte record headers
    const bool nano = m == 0xa1b23c4d || m == 0x4d3cb2a1;
    auto src = std::make_unique<PcapSource>(p, f, gz ? -1 : cookie->fd, nano, modified ? 24 : 16);
    // The header's LINKTYPE (libpcap maps 101 to DLT_RAW 12 in pcap_datalink; report what the file says).
    int lt = pcap_datalink(p);
    if (n >= 24) {
      const bool le = magic[0] == 0xd4 || magic[0] == 0x4d || magic[0] == 0x34;
      const uint32_t f = le ? (magic[20] | magic[21] << 8 | magic[22] << 16 | static_cast<uint32_t>(magic[23]) << 24)
                            : (static_cast<uint32_t>(magic[20]) << 24 | magic[21] << 16 | magic[22] << 8 | magic[23]);
      lt = static_cast<int>(f & 0x03FFFFFF);
    }
    stats_.linktypes.push_back(lt);
    source_ = std::move(src);
    stats_.format = gz ? "gzip-pcap" : "pcap";
  } else {
    source_ = std::make_unique<PcapngSource>(f, stats_);
    stats_.format = gz ? "gzip-pcapng" : "pcapng";
  }
  // Size hint for the flow index: one flow per 4 header-only records of ~60 bytes (a CAIDA backbone trace has ~1 in
  // 3); compressed input counts its compressed size. Only an index of 8-byte slots is sized up front.
  if (opts_.flows)
    flow_table_ = std::make_unique<FlowTable>(opts_.inactive_ns, opts_.active_ns, static_cast<uint64_t>(total_bytes_) / 240);
  // Compile the filter once up front for the pcap link type so a bad expression fails before any work.
  if (!opts_.filter.empty() && stats_.format.find("pcapng") == std::string::npos) {
    FilterFor(stats_.linktypes[0], 262144);
  }
}

int64_t Reader::bytes_read() const {
  if (!source_ || !file_) return 0;
  if (gz_) return static_cast<int64_t>(gzoffset(static_cast<gzFile>(gz_)));
  if (stats_.format == "pcap") return source_->Offset();
  const int64_t p = StreamPos(file_, static_cast<const StreamCookie*>(cookie_));
  return p < 0 ? 0 : p;
}

const Reader::CompiledFilter& Reader::FilterFor(int linktype, uint32_t snaplen) {
  for (auto& f : filters_)
    if (f.linktype == linktype) return f;
  CompiledFilter cf;
  cf.linktype = linktype;
  cf.at_ip = false;
  std::string first_error;
  for (int dlt : {DltForLinktype(linktype), static_cast<int>(DLT_RAW)}) {
    pcap_t* dead = pcap_open_dead(dlt, static_cast<int>(snaplen ? snaplen : 262144));
    if (!dead) throw ReaderError("config", "cannot prepare the BPF compiler", -1);
    const int rc = pcap_compile(dead, &cf.prog, opts_.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN);
    if (rc != 0 && first_error.empty()) first_error = pcap_geterr(dead);
    pcap_close(dead);
    if (rc == 0) {
      cf.at_ip = dlt != DltForLinktype(linktype);
      if (cf.at_ip)
        stats_.warnings.push_back("libpcap cannot filter link type " + std::to_string(linktype) + " (" + first_error +
                                  "); the BPF filter runs on the IP packet of those records (link-layer terms do not apply)");
      filters_.push_back(cf);
      return filters_.back();
    }
    if (!LinktypeSupported(linktype) || dlt == DLT_RAW) break;
  }
  throw ReaderError("config", "invalid BPF filter \"" + opts_.filter + "\" for link type " + std::to_string(linktype) + ": " + first_error, -1);
}

uint32_t Reader::Fill(BatchColumns& c, std::vector<FlowRecord>& flows, bool& done) {
  done = false;
  if (!source_) Open();
  if (done_) {
    done = true;
    return 0;
  }
  uint32_t n = 0;
  RawRecord r;
  DecodedPacket d;
  const bool filtering = !opts_.filter.empty();
  // The flow pass runs every kFlowChunk rows, while the keys (40 B a row) and the rows' columns are still in L1.
  constexpr uint32_t kFlowChunk = 256;
  if (flow_table_ && keys_.size() < kFlowChunk) {
    keys_.resize(kFlowChunk);
    key_hashes_.resize(kFlowChunk);
    key_valid_.resize(kFlowChunk);
  }
  uint32_t flushed = 0;  // rows [0, flushed) went through the flow table
  // Local copies: the column stores (uint8_t* may alias anything) would otherwise reload every pointer per row.
  const BatchColumns cc = c;
  const bool ip6_zeroed = c.ip6_zeroed;
  FlowKey* const keys = keys_.data();
  uint32_t* const key_hashes = key_hashes_.data();
  uint8_t* const key_valid = key_valid_.data();
  ReaderStats& s = stats_;
  // Classic pcap (the common case) gets a direct, inlinable call instead of the virtual one.
  PcapSource* const pcap = dynamic_cast<PcapSource*>(source_.get());
  while (n < c.capacity) {
    bool more;
    try {
      try {
        more = pcap ? pcap->PcapSource::Next(r) : source_->Next(r);
      } catch (const ReaderError& e) {
        int zerr = Z_OK;
        const char* zmsg = gz_ ? gzerror(static_cast<gzFile>(gz_), &zerr) : nullptr;
        if (zerr == Z_OK || zerr == Z_STREAM_END) throw;
        ReaderError ge(e.kind, std::string("corrupt or truncated gzip stream (zlib: ") + (zmsg ? zmsg : "?") +
                                   "), decompressed byte offset " + std::to_string(e.offset) + ": " + e.what(), e.offset);
        throw ge;
      }
    } catch (const ReaderError& e) {
      if (!opts_.keep_valid_prefix || e.kind != "input" || !e.prefix_ok) throw;
      s.warnings.push_back(std::string("stopped early, kept the valid prefix of ") + std::to_string(s.records) +
                           " records: " + e.what());
      more = false;
    }
    if (!more) {
      done_ = done = true;
      break;
    }
    s.records++;
    DecodePacket(r.linktype, r.data, r.caplen, r.len, d);
    if (filtering) {
      const CompiledFilter& f = FilterFor(r.linktype, r.snaplen);
      pcap_pkthdr h;
      h.ts.tv_sec = r.sec;
      h.ts.tv_usec = r.nsec / 1000;
      bool pass;
      if (!f.at_ip) {
        h.caplen = r.caplen;
        h.len = r.len;
        pass = pcap_offline_filter(&f.prog, &h, r.data) != 0;
      } else {
        pass = d.ip_version != 0;
        if (pass) {
          h.caplen = r.caplen - d.ip_offset;
          h.len = r.len > d.ip_offset ? r.len - d.ip_offset : h.caplen;
          pass = pcap_offline_filter(&f.prog, &h, r.data + d.ip_offset) != 0;
        }
      }
      if (!pass) continue;
    }
    s.packets++;
    if (!s.has_ts) {
      s.has_ts = true;
      s.first_sec = r.sec;
      s.first_nsec = r.nsec;
    }
    s.last_sec = r.sec;
    s.last_nsec = r.nsec;
    int64_t ts;
    if (__builtin_mul_overflow(r.sec, int64_t{1000000000}, &ts) || __builtin_add_overflow(ts, int64_t{r.nsec}, &ts)) {
      ts = r.sec < 0 ? INT64_MIN : INT64_MAX;
      s.clamped_ts++;
    }
    if (r.caplen < r.len) s.truncated++;
    if (r.file_caplen > r.caplen || (r.snaplen != 0 && r.caplen > r.snaplen)) s.over_snaplen++;

    cc.tsNs[n] = ts;
    cc.timeUs[n] = static_cast<double>(r.sec) * 1e6 + r.nsec * 1e-3;
    cc.status[n] = d.status;
    cc.ipVersion[n] = d.ip_version;
    cc.srcIp[n] = d.src4;
    cc.dstIp[n] = d.dst4;
    if (d.ip_version == 6) {
      std::memcpy(cc.srcIp6 + 16 * static_cast<size_t>(n), d.src6, 16);
      std::memcpy(cc.dstIp6 + 16 * static_cast<size_t>(n), d.dst6, 16);
    } else if (!ip6_zeroed) {  // a zero-filled buffer needs no stores into 32 empty bytes per IPv4 row
      std::memset(cc.srcIp6 + 16 * static_cast<size_t>(n), 0, 16);
      std::memset(cc.dstIp6 + 16 * static_cast<size_t>(n), 0, 16);
    }
    cc.srcPort[n] = d.src_port;
    cc.dstPort[n] = d.dst_port;
    cc.proto[n] = d.proto;
    cc.pktLen[n] = d.pkt_len;
    cc.caplen[n] = r.caplen;
    cc.wireLen[n] = r.len;
    cc.ihl[n] = d.ihl;
    cc.tos[n] = d.tos;
    cc.ipId[n] = d.ip_id;
    cc.flags[n] = d.flags;
    cc.fragOffset[n] = d.frag_offset;
    cc.ttl[n] = d.ttl;
    cc.ipChecksum[n] = d.ip_checksum;
    cc.tcpFlags[n] = d.tcp_flags;
    cc.tcpWindow[n] = d.tcp_window;
    cc.icmpType[n] = d.icmp_type;
    cc.icmpCode[n] = d.icmp_code;
    cc.iface[n] = r.iface;
    cc.linktype[n] = static_cast<uint16_t>(r.linktype);
    if (d.ip_version != 0) {
      if (d.ip_version == 4) s.ipv4++;
      else s.ipv6++;
      switch (d.proto) {
        case 6: s.tcp++; break;
        case 17: s.udp++; break;
        case 1: case 58: s.icmp++; break;
        default: s.other_ip++;
      }
      s.fragments += d.is_fragment;
      if (flow_table_) {
        const uint64_t w4 = d.src_port | static_cast<uint64_t>(d.dst_port) << 16 | static_cast<uint64_t>(d.proto) << 32 |
                            static_cast<uint64_t>(d.ip_version) << 40;
        if (d.ip_version == 4) {
          key_hashes[n - flushed] = MakeKey(keys[n - flushed], d.src4, 0, d.dst4, 0, w4);
        } else {
          uint64_t a[4];
          std::memcpy(a, d.src6, 16);
          std::memcpy(a + 2, d.dst6, 16);
          key_hashes[n - flushed] = MakeKey(keys[n - flushed], a[0], a[1], a[2], a[3], w4);
        }
        key_valid[n - flushed] = 1;
        if (ts > max_ts_ns_) max_ts_ns_ = ts;
      }
    } else {
      if (d.status == kStatusNotIp) s.not_ip++;
      else s.undecodable++;
      if (flow_table_) key_valid[n - flushed] = 0;
    }
    n++;
    if (flow_table_ && n - flushed == kFlowChunk) {
      flow_table_->AddBatch(keys_.data(), key_hashes_.data(), key_valid_.data(), c.tsNs + flushed, c.pktLen + flushed,
                            c.tcpFlags + flushed, kFlowChunk, c.flowId + flushed, flows);
      flushed = n;
    }
  }
  if (done && s.over_snaplen > 0)
    s.warnings.push_back(std::to_string(s.over_snaplen) + " records have a captured length larger than the snapshot length in the file header (libpcap cuts them to the snapshot length)");
  if (flow_table_) {
    // The rows since the last chunk: flow lookups with prefetching (ids written straight into the flowId column).
    flow_table_->AddBatch(keys_.data(), key_hashes_.data(), key_valid_.data(), c.tsNs + flushed, c.pktLen + flushed,
                          c.tcpFlags + flushed, n - flushed, c.flowId + flushed, flows);
    if (done) {
      if (!opts_.leave_final_flows) flow_table_->Flush(flows);
    } else {
      flow_table_->MaybeSweep(max_ts_ns_, flows);
    }
  }
  return n;
}

}  // namespace netshare
