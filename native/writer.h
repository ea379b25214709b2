// pcap / pcapng writer: builds IPv4/IPv6 + TCP/UDP/ICMP headers with valid lengths and checksums from packet columns.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace netshare {

// Borrowed pointers to the PacketTable columns (src/io/table.ts), all of length `n`. Nothing is copied;
// the caller keeps the arrays alive and unmodified while a write runs. `src_ip6`/`dst_ip6` (16 bytes per
// row, network order) may be null when no row has ip_version 6.
struct PacketColumns {
  size_t n = 0;
  const double* time_us = nullptr;  // µs since the Unix epoch
  // Optional exact ns since the epoch (a table read by the native reader keeps them; float64 µs cannot). A row's ns are
  // used when they agree with its time_us to within 1 µs; otherwise (time_us was changed since) time_us is.
  const int64_t* time_ns = nullptr;
  const uint8_t* ip_version = nullptr;
  const uint32_t* src_ip = nullptr;  // IPv4, host order
  const uint32_t* dst_ip = nullptr;
  const uint8_t* src_ip6 = nullptr;
  const uint8_t* dst_ip6 = nullptr;
  const uint16_t* src_port = nullptr;  // ICMP/ICMPv6: the type (see kIcmp* below)
  const uint16_t* dst_port = nullptr;  // ICMP/ICMPv6: the code
  const uint8_t* proto = nullptr;      // upper-layer protocol (after IPv6 extension headers)
  const uint32_t* pkt_len = nullptr;   // IP total length (IPv6: payload length + 40)
  const uint8_t* ihl = nullptr;        // IPv4 header length in bytes (20..60, multiple of 4; 0 means 20)
  const uint8_t* tos = nullptr;        // IPv4 TOS / IPv6 traffic class
  const uint32_t* ip_id = nullptr;     // IPv4 id (16 bits); IPv6: fragment identification when fragmented
  const uint8_t* flags = nullptr;      // IPv4 flags (reserved, DF, MF); IPv6: only MF (1) is representable
  const uint16_t* frag_offset = nullptr;  // 8-byte units (13 bits)
  const uint8_t* ttl = nullptr;        // IPv4 TTL / IPv6 hop limit
  const uint8_t* tcp_flags = nullptr;  // CWR ECE URG ACK PSH RST SYN FIN
  const uint16_t* tcp_window = nullptr;
};

enum class FileFormat { kPcap, kPcapng };
enum class RecordMode {
  kHeaderOnly,  // caplen = link + IP (+ extension) + L4 headers, orig_len = link + IP total length (CAIDA style)
  kFull,        // caplen = orig_len = link + IP total length, payload bytes are zero
};

// Link types the writer can produce.
constexpr uint32_t kLinktypeEthernet = 1;
constexpr uint32_t kLinktypeRaw = 101;

struct WriterOptions {
  FileFormat format = FileFormat::kPcap;
  RecordMode mode = RecordMode::kHeaderOnly;
  bool nanosecond = false;  // pcap: ns magic (0xa1b23c4d); pcapng: if_tsresol 9
  // Choose `nanosecond` from the data: true when some row's time has a sub-µs part (time_ns digits), so nothing is
  // rounded away and whole-µs traces stay µs files.
  bool nanosecond_auto = false;
  uint32_t linktype = kLinktypeRaw;
};

struct WriteResult {
  uint64_t packets = 0;
  uint64_t bytes = 0;  // bytes of the file
  bool nanosecond = false;  // the file's unit (after nanosecond_auto)
};

// A row of the table cannot be written (bad version, lengths that cannot hold the headers, ...).
// `row` is the 0-based row; the message follows "Expected <what> for <column>[row] but received <v>".
class WriterInputError : public std::runtime_error {
 public:
  WriterInputError(const std::string& msg, size_t row) : std::runtime_error(msg), row_(row) {}
  size_t row() const { return row_; }

 private:
  size_t row_;
};

// The output file could not be created or written (errno text in the message).
class WriterIoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Upper bound of one encoded record (record header + link header + largest IP packet + padding).
constexpr size_t kMaxRecordBytes = 32 + 14 + 65535 + 40 + 8 + 4;

// Encodes the file header (pcap global header, or pcapng SHB + IDB) into `out` and returns its size
// (at most 64 bytes). Never throws.
size_t EncodeFileHeader(const WriterOptions& opt, uint8_t* out);

// Encodes row `i` as one complete record (pcap record header or pcapng EPB, then the packet bytes) into
// `out`, which must have room for kMaxRecordBytes. Returns the number of bytes written.
// Throws WriterInputError when the row's values cannot form a valid packet.
size_t EncodeRecord(const PacketColumns& cols, size_t i, const WriterOptions& opt, uint8_t* out);

// True when some row's timestamp, as EncodeRecord takes it, has a sub-µs part (only possible with time_ns).
bool HasSubMicrosecondTimes(const PacketColumns& cols);

// Checks every column pointer needed for `cols.n` rows is present. Throws WriterInputError (row 0) if not.
void CheckColumns(const PacketColumns& cols);

// Writes every row of `cols` to `path` (created or truncated; the caller does the temp-file + rename).
// Throws WriterInputError (bad row; the partial file is left for the caller to remove) or WriterIoError.
WriteResult WritePacketsToFile(const std::string& path, const PacketColumns& cols, const WriterOptions& opt);

}  // namespace netshare
