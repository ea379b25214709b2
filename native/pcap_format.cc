// Classic pcap: the slow path of record parsing (buffer refills, over-long and truncated records) and opening a file.
#include "pcap_format.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace netshare {

PcapSource::PcapSource(pcap_t* p, FILE* f, int fd, bool nano, int record_header, int linktype)
    : p_(p), f_(f), fd_(fd), record_header_(record_header) {
  linktype_ = linktype;
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

PcapSource::~PcapSource() { pcap_close(p_); }

bool PcapSource::NextSlow(RawRecord& r) {
  const size_t hs = static_cast<size_t>(record_header_);
  if (end_ - pos_ < hs && Ensure(hs) < hs) {
    const size_t got = end_ - pos_;
    if (got == 0 && !error_) return false;
    throw Bad(error_ ? ReadErrorText() : "truncated dump file; tried to read " + std::to_string(hs) + " header bytes, only got " + std::to_string(got));
  }
  const RecordHeader h = DecodeHeader(buf_.data() + pos_);
  if (h.caplen > max_caplen_) {
    throw Bad(h.caplen > snaplen_ ? "invalid packet capture length " + std::to_string(h.caplen) + ", bigger than snaplen of " + std::to_string(static_cast<int>(snaplen_))
                                  : "invalid packet capture length " + std::to_string(h.caplen) + ", bigger than maximum of " + std::to_string(max_caplen_));
  }
  const size_t need = hs + h.caplen;
  if (end_ - pos_ < need && Ensure(need) < need) {
    const size_t got = end_ - pos_ - hs;
    if (error_) throw Bad(ReadErrorText());
    if (h.caplen > snaplen_ && got < snaplen_)
      throw Bad("truncated dump file; tried to read " + std::to_string(static_cast<int>(snaplen_)) + " captured bytes, only got " + std::to_string(got));
    throw Bad("truncated dump file; tried to read " + std::to_string(h.caplen) + " captured bytes, only got " + std::to_string(got));
  }
  Emit(r, h, hs);  // Ensure may have moved the buffer; Emit takes the data from pos_
  return true;
}

ReaderError PcapSource::Bad(const std::string& msg) const {
  return ReaderError("input", "bad pcap record at byte offset " + std::to_string(Offset()) + ": " + msg, Offset());
}

std::string PcapSource::ReadErrorText() const { return std::string("error reading dump file: ") + std::strerror(errno_ ? errno_ : EIO); }

size_t PcapSource::Ensure(size_t need) {
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
      got = ReadStream(buf_.data() + end_, want, f_);
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

std::unique_ptr<PcapSource> OpenPcap(const InputStream& in, uint32_t magic, ReaderStats& stats) {
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(in.file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (!p) {
    std::fclose(in.file);
    throw ReaderError("input", std::string("bad pcap file header: ") + errbuf, 0);
  }
  const bool modified = magic == 0xa1b2cd34 || magic == 0x34cdb2a1;  // Kuznetzov's pcap: 24-byte record headers
  const bool nano = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
  // The header's LINKTYPE (libpcap maps 101 to DLT_RAW 12 in pcap_datalink; report what the file says, as pcapng does).
  int lt = pcap_datalink(p);
  if (in.head_len >= 24) {
    const bool le = in.head[0] == 0xd4 || in.head[0] == 0x4d || in.head[0] == 0x34;
    lt = static_cast<int>((le ? LoadLe32(in.head + 20) : LoadBe32(in.head + 20)) & 0x03FFFFFF);
  }
  auto src = std::make_unique<PcapSource>(p, in.file, in.fd, nano, modified ? 24 : 16, lt);
  stats.linktypes.push_back(lt);
  return src;
}

}  // namespace netshare
