// pcapng block parser: Section Header, Interface Description, Enhanced/Simple/obsolete Packet Blocks; other blocks skipped.
#include "pcapng_format.h"

#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "byte_order.h"

namespace netshare {
namespace {

constexpr uint32_t kMaxBlock = 256u << 20;  // largest pcapng block accepted (guards absurd lengths)

}  // namespace

PcapngSource::PcapngSource(FILE* f, int fd, int64_t size, ReaderStats& stats) : f_(f), stats_(stats), size_(size), fd_(fd) {
  buf_.resize(kChunk);
}

PcapngSource::~PcapngSource() { std::fclose(f_); }

void PcapngSource::UpdateFastIfaces() {
  fast_ifaces_ = 0;
  while (fast_ifaces_ < ifaces_.size() && fast_ifaces_ <= 0xFFFF) {
    const Iface& ifc = ifaces_[fast_ifaces_];
    if (ifc.pow2 || (ifc.units != 1000000 && ifc.units != 1000000000) || ifc.offset_s != 0) break;
    fast_ifaces_++;
  }
}

bool PcapngSource::NextSlow(RawRecord& r) {
  for (;;) {
    const int64_t start = Offset();
    size_t got = Have(8);
    if (got == 0) {
      if (error_) throw Err(start, "read error");
      if (!any_idb_) {
        ReaderError e = Err(start, "the pcapng file has no Interface Description Block");
        e.prefix_ok = false;
        throw e;
      }
      return false;
    }
    if (got < 8) throw Err(start, "truncated pcapng file: block header cut short (" + std::to_string(got) + " of 8 bytes)");
    const uint8_t* p = buf_.data() + pos_;
    uint32_t type = Rd32(p);
    uint32_t total;
    if (type == 0x0A0D0D0A) {  // SHB: byte order comes from the magic that follows
      if (Have(12) < 12) throw Err(start, "truncated pcapng Section Header Block");
      p = buf_.data() + pos_;
      const uint32_t bom = LoadLe32(p + 8);
      if (bom == 0x1A2B3C4D) swap_ = false;
      else if (bom == 0x4D3C2B1A) swap_ = true;
      else throw Err(start, "bad pcapng byte-order magic " + HexBytes(p + 8, 4));
      total = Rd32(p + 4);
      if (total < 28 || total % 4 != 0 || total > kMaxBlock) throw Err(start, "invalid Section Header Block length " + std::to_string(total));
      p = Block(start, total);
      if (Rd16(p + 12) != 1) throw Err(start, "unsupported pcapng major version " + std::to_string(Rd16(p + 12)));
      ifaces_.clear();
      UpdateFastIfaces();
      seen_shb_ = true;
      pos_ += total;
      continue;
    }
    if (!seen_shb_) throw Err(0, "not a pcapng file (first block is not a Section Header Block)");
    total = Rd32(p + 4);
    if (total < 12 || total % 4 != 0 || total > kMaxBlock)
      throw Err(start, "invalid pcapng block length " + std::to_string(total) + " (block type 0x" + HexU(type) + ")");
    p = Block(start, total);
    pos_ += total;  // the block's bytes stay in place until the next call
    const uint8_t* b = p + 8;
    const uint32_t body = total - 12;
    switch (type) {
      case 1: {  // IDB
        if (body < 8) throw Err(start, "Interface Description Block too short");
        Iface ifc;
        ifc.linktype = Rd16(b);
        ifc.snaplen = Rd32(b + 4);
        ParseIdbOptions(start, b + 8, body - 8, ifc);
        ifaces_.push_back(ifc);
        UpdateFastIfaces();
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
        if (ifid > 0xFFFF)  // the iface column is 16-bit: refuse rather than report another interface's id
          throw Err(start, "packet block refers to interface " + std::to_string(ifid) + "; interface ids above 65535 are not supported");
        const Iface& ifc = IfaceFor(start, ifid);
        Stamp(ifc, LoadFile64Split(b + 4, swap_), r);
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
        Stamp(ifc, LoadFile64Split(b + 4, swap_), r);
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

std::string PcapngSource::HexU(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "%x", v);
  return b;
}
ReaderError PcapngSource::Err(int64_t off, const std::string& msg) const {
  return ReaderError("input", msg + " at byte offset " + std::to_string(off), off);
}
// Makes at least `need` bytes available from pos_ (fewer only at the end of input or on a read error) and returns
// how many are. Where the file's size is unknown (gzip, pipes) the buffer grows only as bytes arrive, so a corrupt
// block length cannot make it allocate 256 MiB; Block checks lengths against a known size before calling this.
__attribute__((noinline)) size_t PcapngSource::Refill(size_t need) {
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    buf_off_ += static_cast<int64_t>(pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  while (end_ < need && !eof_ && !error_) {
    if (end_ == buf_.size()) buf_.resize(std::min(need, std::max(2 * buf_.size(), end_ + kChunk)));
    const size_t want = buf_.size() - end_;
    if (fd_ >= 0) {
      ssize_t n;
      do n = ::pread(fd_, buf_.data() + end_, want, file_pos_);
      while (n < 0 && errno == EINTR);
      if (n < 0) {
        error_ = true;
        break;
      }
      if (n == 0) eof_ = true;
      end_ += static_cast<size_t>(n);
      file_pos_ += n;
      continue;
    }
    const size_t got = ReadStream(buf_.data() + end_, want, f_);
    end_ += got;
    if (got < want) {
      if (std::ferror(f_)) error_ = true;
      else eof_ = true;
    }
  }
  return end_ - pos_;
}

// The whole block of `total` bytes at pos_ (header, body, trailing length), with its trailer checked. A block
// length is checked against the bytes left in the file before anything is allocated.
const uint8_t* PcapngSource::Block(int64_t start, uint32_t total) {
  if (size_ >= 0 && start + int64_t{total} > size_)
    throw Err(start, "truncated pcapng file: block of " + std::to_string(total) + " bytes has only " +
                         std::to_string(size_ - start) + " before end of file");
  const size_t got = Have(total);
  if (got < total) {
    if (error_) throw Err(start, "read error in pcapng block");
    throw Err(start, "truncated pcapng file: block of " + std::to_string(total) + " bytes has only " + std::to_string(got) +
                         " before end of file");
  }
  const uint8_t* p = buf_.data() + pos_;
  if (Rd32(p + total - 4) != total) throw Err(start, "pcapng block trailing length does not match its header (corrupt block)");
  return p;
}

void PcapngSource::ParseIdbOptions(int64_t start, const uint8_t* p, uint32_t n, Iface& ifc) {
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
      ifc.offset_s = static_cast<int64_t>(LoadFile64(p + pos, swap_));
    }
    pos += (len + 3u) & ~3u;
  }
}

const PcapngSource::Iface& PcapngSource::IfaceFor(int64_t start, uint32_t id) const {
  if (id >= ifaces_.size())
    throw Err(start, "packet block refers to interface " + std::to_string(id) + " but the section has " +
                         std::to_string(ifaces_.size()));
  return ifaces_[id];
}

void PcapngSource::Stamp(const Iface& ifc, uint64_t ts, RawRecord& r) {
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
  // Saturate instead of overflowing (UB): the reader clamps the ns timestamp and counts it in clamped_ts.
  int64_t s;
  if (sec > static_cast<uint64_t>(INT64_MAX) || __builtin_add_overflow(static_cast<int64_t>(sec), ifc.offset_s, &s))
    s = sec <= static_cast<uint64_t>(INT64_MAX) && ifc.offset_s < 0 ? INT64_MIN : INT64_MAX;
  r.sec = s;
  r.nsec = static_cast<uint32_t>(frac_ns);
}

std::unique_ptr<RecordSource> OpenPcapng(const InputStream& in, ReaderStats& stats) {
  return std::make_unique<PcapngSource>(in.file, in.fd, in.gz || !in.regular ? -1 : in.size, stats);
}

}  // namespace netshare
