// Classic pcap records: libpcap checks the file header, records are parsed here from large buffered reads. The fast
// path of Next is defined in this header so that Reader::Fill inlines it.
#pragma once
#include <pcap/pcap.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "byte_order.h"
#include "input_stream.h"
#include "record_source.h"

namespace netshare {

// True for the six classic pcap magics (µs, ns and Kuznetzov's modified pcap, either byte order), read big-endian.
inline bool IsPcapMagic(uint32_t m) {
  return m == 0xa1b2c3d4 || m == 0xd4c3b2a1 || m == 0xa1b23c4d || m == 0x4d3cb2a1 || m == 0xa1b2cd34 || m == 0x34cdb2a1;
}

// libpcap reads every record with two small freads (header, data) through stdio, which costs more than decoding the
// packet. This source does the same per-record work as libpcap 1.10's pcap_next_packet (byte order, µs/ns scaling,
// caplen/len swap for versions < 2.4, the sanity limit and snapshot cut, the same error texts) on a 4 MiB buffer
// filled by pread (plain files) or fread (the gzip stream), and knows each record's exact byte offset.
class PcapSource final : public RecordSource {
 public:
  // Takes over `p` (which owns `f`). `fd` >= 0: plain file read with pread from offset 24; -1: read the rest of `f`
  // (gzip, pipes) after libpcap's header read. `record_header`: 16, or 24 for Kuznetzov's modified pcap. `linktype`:
  // the file header's LINKTYPE_ value, reported per record as pcapng reports its IDBs' (101 for raw IP, where
  // libpcap's pcap_datalink says DLT_RAW 12).
  PcapSource(pcap_t* p, FILE* f, int fd, bool nano, int record_header, int linktype);
  ~PcapSource() override;

  // Fast path (inlined into Reader::Fill): a whole record in the buffer, caplen within the snapshot length.
  __attribute__((always_inline)) bool Next(RawRecord& r) override {
    const size_t hs = static_cast<size_t>(record_header_);
    const size_t avail = end_ - pos_;
    if (__builtin_expect(avail >= hs, 1)) {
      const RecordHeader h = DecodeHeader(buf_.data() + pos_);
      if (__builtin_expect(h.caplen <= fast_caplen_ && avail - hs >= h.caplen, 1)) {
        Emit(r, h, hs);
        return true;
      }
    }
    return NextSlow(r);
  }
  // Offset of the next record (of the record that failed, after an error).
  int64_t Offset() const override { return buf_off_ + static_cast<int64_t>(pos_); }

 private:
  static constexpr size_t kChunk = 4u << 20;
  enum Lengths { kNotSwapped, kSwapped, kMaybe };

  struct RecordHeader {
    uint32_t sec, frac;    // as stored (read as unsigned)
    uint32_t caplen, len;  // after the version's caplen/len swap
  };
  // The record header at `h` in host order: the one decoder of both paths.
  __attribute__((always_inline)) RecordHeader DecodeHeader(const uint8_t* h) const {
    RecordHeader rh{LoadFile32(h, swapped_), LoadFile32(h + 4, swapped_), LoadFile32(h + 8, swapped_), LoadFile32(h + 12, swapped_)};
    if (lengths_ != kNotSwapped && (lengths_ == kSwapped || rh.caplen > rh.len)) std::swap(rh.caplen, rh.len);
    return rh;
  }

  // Hands out the record at pos_ and steps past it.
  __attribute__((always_inline)) void Emit(RawRecord& r, const RecordHeader& h, size_t hs) {
    r.sec = h.sec;  // unsigned, as Wireshark reads it: 1970..2106 (libpcap's signed read wraps after 2038)
    const int64_t frac = h.frac;
    r.nsec = static_cast<uint32_t>(scale_up_ ? frac * 1000 : frac);  // nanoseconds, as libpcap opened NANO gives
    r.file_caplen = h.caplen;
    r.caplen = h.caplen > snaplen_ ? snaplen_ : h.caplen;  // libpcap keeps the snapshot length and skips the rest
    r.len = h.len;
    r.data = buf_.data() + pos_ + hs;
    r.linktype = linktype_;
    r.iface = 0;
    r.snaplen = snaplen_;
    pos_ += hs + h.caplen;
  }

  // A record the fast path does not take: at the buffer's end, over the snapshot length, or malformed.
  __attribute__((noinline)) bool NextSlow(RawRecord& r);
  ReaderError Bad(const std::string& msg) const;
  std::string ReadErrorText() const;
  // Makes at least `need` bytes available from pos_ (fewer only at end of input or on a read error); returns them.
  size_t Ensure(size_t need);

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

// Opens the classic pcap on `in` (whose head holds magic `magic`, read big-endian): libpcap checks the file header.
// Appends the header's link type to `stats.linktypes`. Takes over `in.file`: the source closes it, and so does a
// ReaderError("input") thrown for a bad file header.
std::unique_ptr<PcapSource> OpenPcap(const InputStream& in, uint32_t magic, ReaderStats& stats);

}  // namespace netshare
