// Trace reader: opens a capture (pcap, pcapng, either gzip'd; one RecordSource per format), applies the BPF filter and
// fills preallocated column batches with decoded headers and (optionally) flow ids.
#pragma once
#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "decode.h"
#include "flows.h"
#include "input_stream.h"
#include "record_source.h"

namespace netshare {

// Column list shared with the N-API glue: name, C type, bytes per packet.
#define NETSHARE_PACKET_COLUMNS(X) \
  X(tsNs, int64_t, 8)              \
  X(timeUs, double, 8)             \
  X(status, uint8_t, 1)            \
  X(ipVersion, uint8_t, 1)         \
  X(srcIp, uint32_t, 4)            \
  X(dstIp, uint32_t, 4)            \
  X(srcIp6, uint8_t, 16)           \
  X(dstIp6, uint8_t, 16)           \
  X(srcPort, uint16_t, 2)          \
  X(dstPort, uint16_t, 2)          \
  X(proto, uint8_t, 1)             \
  X(pktLen, uint32_t, 4)           \
  X(caplen, uint32_t, 4)           \
  X(wireLen, uint32_t, 4)          \
  X(ihl, uint8_t, 1)               \
  X(tos, uint8_t, 1)               \
  X(ipId, uint32_t, 4)             \
  X(flags, uint8_t, 1)             \
  X(fragOffset, uint16_t, 2)       \
  X(ttl, uint8_t, 1)               \
  X(ipChecksum, uint16_t, 2)       \
  X(tcpFlags, uint8_t, 1)          \
  X(tcpWindow, uint16_t, 2)        \
  X(icmpType, uint8_t, 1)          \
  X(icmpCode, uint8_t, 1)          \
  X(iface, uint16_t, 2)            \
  X(linktype, uint16_t, 2)         \
  X(flowId, uint32_t, 4)

// Destination buffers of one batch (each sized capacity * bytes-per-packet). Fill writes every column of every row it
// returns, except srcIp6/dstIp6 of non-IPv6 rows: those 32 bytes are cleared only where the row held IPv6 before
// (ipVersion 6). `ip6_zeroed` true promises that the buffer keeps that invariant (a row whose ipVersion is not 6 has
// zero address bytes: true of a zero-filled buffer, and of one only ever filled by Fill with the same layout); false
// clears them on every IPv4 row.
struct BatchColumns {
#define NETSHARE_DECL_COL(name, type, width) type* name = nullptr;
  NETSHARE_PACKET_COLUMNS(NETSHARE_DECL_COL)
#undef NETSHARE_DECL_COL
  uint32_t capacity = 0;
  bool ip6_zeroed = true;
};

struct ReaderOptions {
  std::string filter;           // BPF expression, empty = none
  bool flows = false;           // aggregate flows and fill flowId
  int64_t inactive_ns = 0;      // flow inactive timeout, 0 = off
  int64_t active_ns = 0;        // flow active timeout, 0 = off
  bool keep_valid_prefix = false;  // on a corrupt/truncated record: stop with a warning instead of failing
  // false: flows only (requires `flows`): no packet column is written, Fill's `cols` pointers may be null and
  // `capacity` only bounds the records read per call (readFlowTable and `convert --flows` use only the flows).
  bool packet_columns = true;
  // At end of input leave the open flows in the table (final_flows()) instead of copying them into Fill's `flows`:
  // for a caller that converts them itself (the N-API glue), which saves a copy of every flow.
  bool leave_final_flows = false;
};

class Reader {
 public:
  Reader(std::string path, ReaderOptions opts);
  ~Reader();
  // Opens the file and reads its header. Throws ReaderError.
  void Open();
  // Fills up to cols.capacity packets; sets `done` at end of input (then flushes open flows into `flows`).
  // Closed flows are appended to `flows`. Throws ReaderError (unless keep_valid_prefix turns it into a warning).
  uint32_t Fill(BatchColumns& cols, std::vector<FlowRecord>& flows, bool& done);
  const ReaderStats& stats() const { return stats_; }
  uint64_t flows_created() const { return flow_table_ ? flow_table_->flows_created() : 0; }
  // With leave_final_flows, after the Fill that set `done`: the table holding the flows still open at the end (they
  // follow that Fill's `flows`, in id order via FlowTable::OpenFlows; Clear() it after use). Null otherwise.
  FlowTable* final_flows() { return opts_.leave_final_flows && done_ ? flow_table_.get() : nullptr; }
  int64_t bytes_read() const;  // compressed bytes for gzip
  int64_t total_bytes() const { return in_.size; }
  bool opened() const { return source_ != nullptr; }

 private:
  struct CompiledFilter {
    int linktype;
    bool at_ip;  // libpcap cannot filter this link type: the program runs on the decoded IP packet (DLT_RAW)
    bpf_program prog;
  };
  const CompiledFilter& FilterFor(int linktype, uint32_t snaplen);
  template <bool kColumns>
  uint32_t FillRows(BatchColumns& cols, std::vector<FlowRecord>& flows, bool& done);

  std::string path_;
  ReaderOptions opts_;
  ReaderStats stats_;
  std::unique_ptr<RecordSource> source_;
  std::unique_ptr<FlowTable> flow_table_;
  std::vector<CompiledFilter> filters_;
  InputStream in_;  // the stream under source_ (its FILE* is owned by source_ once handed over)
  bool done_ = false;
  // Per-batch scratch for the flow pass (sized to the batch capacity once).
  std::vector<FlowKey> keys_;
  std::vector<uint32_t> key_hashes_;
  std::vector<uint8_t> key_valid_;
  std::vector<int64_t> key_ts_;
  std::vector<uint32_t> key_bytes_;
  std::vector<uint8_t> key_flags_;
  std::vector<uint32_t> key_ids_;  // flow ids of a chunk when there is no flowId column
  int64_t max_ts_ns_ = INT64_MIN;
};

}  // namespace netshare
