// pcapng records: an own block parser (libpcap 1.10 allows one link type per handle and hides interface ids), with
// per-interface link type, snapshot length and timestamp resolution.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

#include "byte_order.h"
#include "input_stream.h"
#include "record_source.h"

namespace netshare {

// True for the pcapng Section Header Block type, the first four bytes of every pcapng file (read big-endian).
inline bool IsPcapngMagic(uint32_t m) { return m == 0x0a0d0d0a; }

// Section Header, Interface Description, Enhanced/Simple/obsolete Packet Blocks; other blocks skipped. Blocks are
// parsed in place in a 4 MiB buffer (one read per chunk, not two freads per block).
class PcapngSource final : public RecordSource {
 public:
  // `size`: the file's size in bytes, or -1 when unknown (gzip'd content, a pipe).
  // `fd` >= 0: a regular file, read with pread (no copy through stdio); -1: read `f` (gzip, pipes).
  PcapngSource(FILE* f, int fd, int64_t size, ReaderStats& stats);
  ~PcapngSource() override;
  int64_t Offset() const override { return buf_off_ + static_cast<int64_t>(pos_); }

  // Fast path (inlined into Reader::Fill through a PcapngSource pointer: no virtual call per record): an Enhanced
  // Packet Block wholly in the buffer, with consistent lengths, of a known interface whose timestamps are µs or ns
  // without an offset. Everything else (other blocks, refills, other resolutions, every error) goes to NextSlow,
  // which checks it all again and gives the same results and messages as before.
  __attribute__((always_inline)) bool Next(RawRecord& r) override {
    const size_t avail = end_ - pos_;
    if (__builtin_expect(avail >= 32, 1)) {
      const uint8_t* p = buf_.data() + pos_;
      const uint32_t total = Rd32(p + 4);
      if (__builtin_expect(Rd32(p) == 6 && total >= 32 && total % 4 == 0 && total <= avail, 1)) {
        const uint8_t* b = p + 8;
        const uint32_t ifid = Rd32(b), caplen = Rd32(b + 12);
        if (__builtin_expect(caplen <= total - 32 && ifid < fast_ifaces_ && Rd32(p + total - 4) == total, 1)) {
          const Iface& ifc = ifaces_[ifid];
          const uint64_t ts = LoadFile64Split(b + 4, swap_);
          if (ifc.units == 1000000) {
            r.sec = static_cast<int64_t>(ts / 1000000);
            r.nsec = static_cast<uint32_t>(ts % 1000000) * 1000;
          } else {
            r.sec = static_cast<int64_t>(ts / 1000000000);
            r.nsec = static_cast<uint32_t>(ts % 1000000000);
          }
          Fill(r, ifc, ifid, b + 20, caplen, Rd32(b + 16));
          pos_ += total;
          return true;
        }
      }
    }
    return NextSlow(r);
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

  __attribute__((noinline)) bool NextSlow(RawRecord& r);
  static std::string HexU(uint32_t v);
  ReaderError Err(int64_t off, const std::string& msg) const;
  // Fields in the current section's byte order.
  uint16_t Rd16(const uint8_t* p) const { return LoadFile16(p, swap_); }
  uint32_t Rd32(const uint8_t* p) const { return LoadFile32(p, swap_); }
  size_t Have(size_t need) {
    if (__builtin_expect(end_ - pos_ >= need, 1)) return end_ - pos_;
    return Refill(need);
  }
  size_t Refill(size_t need);
  const uint8_t* Block(int64_t start, uint32_t total);
  void ParseIdbOptions(int64_t start, const uint8_t* p, uint32_t n, Iface& ifc);
  const Iface& IfaceFor(int64_t start, uint32_t id) const;
  static void Stamp(const Iface& ifc, uint64_t ts, RawRecord& r);
  // Interfaces [0, fast_ifaces_) all take the fast path (µs or ns, no if_tsoffset; ids <= 65535).
  void UpdateFastIfaces();
  static void Fill(RawRecord& r, const Iface& ifc, uint32_t ifid, const uint8_t* data, uint32_t caplen, uint32_t len) {
    r.caplen = caplen;
    r.file_caplen = caplen;
    r.len = len;
    r.data = data;
    r.linktype = ifc.linktype;
    r.iface = static_cast<uint16_t>(ifid);
    r.snaplen = ifc.snaplen;
  }

  static constexpr size_t kChunk = 4u << 20;
  FILE* f_;
  ReaderStats& stats_;
  int64_t size_;
  int fd_;
  off_t file_pos_ = 0;  // next pread offset (the format was sniffed with pread: nothing of the file is consumed yet)
  std::vector<uint8_t> buf_;
  size_t pos_ = 0, end_ = 0;  // unread bytes are buf_[pos_, end_)
  int64_t buf_off_ = 0;       // stream offset of buf_[0]
  bool eof_ = false, error_ = false, seen_shb_ = false;
  std::vector<Iface> ifaces_;
  uint32_t fast_ifaces_ = 0;
  std::vector<uint32_t> unknown_types_;
  bool swap_ = false, any_idb_ = false;
};

// A source over the pcapng file on `in`; it owns `in.file`. Appends each new interface's link type to
// `stats.linktypes` and warnings (skipped block types) to `stats.warnings` as it reads, so `stats` must outlive it.
std::unique_ptr<RecordSource> OpenPcapng(const InputStream& in, ReaderStats& stats);

}  // namespace netshare
