// The interface between the reader and its capture formats: one record at a time, the reader's error and statistics.
#pragma once
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace netshare {

// A reader failure. kind: "input" (bad/missing file: `offset` is the byte offset where it went wrong, -1 if
// unknown; for gzip'd files it counts decompressed bytes) or "config" (bad option, e.g. a BPF filter).
struct ReaderError : std::runtime_error {
  ReaderError(std::string k, const std::string& msg, int64_t off = -1) : std::runtime_error(msg), kind(std::move(k)), offset(off) {}
  std::string kind;
  int64_t offset;
  bool prefix_ok = true;  // false: keep_valid_prefix cannot turn this into a warning (the file never opened)
};

struct ReaderStats {
  std::string format;           // pcap | pcapng | gzip-pcap | gzip-pcapng
  std::vector<int> linktypes;   // distinct link types in file order (pcap header / pcapng IDBs)
  uint64_t records = 0;         // records read from the file (before the filter)
  uint64_t packets = 0;         // records that passed the filter
  uint64_t ipv4 = 0, ipv6 = 0, tcp = 0, udp = 0, icmp = 0, other_ip = 0, not_ip = 0, undecodable = 0;
  uint64_t truncated = 0, fragments = 0, clamped_ts = 0;
  uint64_t over_snaplen = 0;    // records whose caplen exceeds their file/interface snaplen (libpcap cuts them to the snapshot length)
  bool has_ts = false;
  int64_t first_sec = 0, last_sec = 0;
  uint32_t first_nsec = 0, last_nsec = 0;
  std::vector<std::string> warnings;
};

// One record handed out by a format source; `data` stays valid until the next call.
struct RawRecord {
  int64_t sec;
  uint32_t nsec;
  uint32_t caplen, len;
  uint32_t file_caplen;  // captured length stored in the file (> caplen when libpcap cut it to the snaplen)
  const uint8_t* data;
  int linktype;
  uint16_t iface;
  uint32_t snaplen;
};

// A capture format's records (native/pcap_format.h, native/pcapng_format.h). A source owns the stream it reads.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // Returns false at a clean end of input; throws ReaderError("input", ..., offset) on malformed data.
  virtual bool Next(RawRecord& r) = 0;
  // Decompressed/raw stream offset of the next unread byte (for error messages).
  virtual int64_t Offset() const = 0;
};

// "0a 0d 0d 0a": `n` bytes as space-separated hex, for error messages that quote a file's bytes.
inline std::string HexBytes(const uint8_t* b, size_t n) {
  std::string s;
  char buf[4];
  for (size_t i = 0; i < n; i++) {
    std::snprintf(buf, sizeof buf, "%02x", b[i]);
    if (i) s += ' ';
    s += buf;
  }
  return s;
}

}  // namespace netshare
