// Native 5-tuple flow table: open addressing with linear probing, optional inactive/active timeouts.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace netshare {

// (src, dst, sport, dport, proto, version): IPv4 addresses sit in the first 4 bytes of src/dst (host order).
struct FlowKey {
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t sport, dport;
  uint8_t proto, version;
  uint16_t pad;
};
static_assert(sizeof(FlowKey) == 40, "FlowKey must be packed into 40 bytes");

// One finished (or, at end of input, still open) flow.
struct FlowRecord {
  FlowKey key;
  int64_t first_ns, last_ns;
  uint64_t packets, bytes;
  uint32_t id;       // creation order, starting at 0; a flow re-opened after a timeout gets a new id
  uint8_t tcp_flags; // union over its packets
};

class FlowTable {
 public:
  // Timeouts in ns; 0 = off (NetShare has none: one flow per 5-tuple over the whole trace).
  FlowTable(int64_t inactive_ns, int64_t active_ns);

  // Adds one packet, returns its flow id. Flows closed by a timeout are appended to `closed`.
  uint32_t Add(const FlowKey& key, int64_t ts_ns, uint32_t bytes, uint8_t tcp_flags, std::vector<FlowRecord>& closed);

  // Expires flows idle (or too long) at time `now_ns` when a timeout is set and enough time has passed since the
  // last sweep; cheap to call per batch. Expired flows are appended to `closed`.
  void MaybeSweep(int64_t now_ns, std::vector<FlowRecord>& closed);

  // Appends every open flow (sorted by id) to `out` and empties the table.
  void Flush(std::vector<FlowRecord>& out);

  uint64_t flows_created() const { return next_id_; }
  size_t open_flows() const { return count_; }

 private:
  struct Slot {
    FlowRecord rec;
    uint32_t hash;
    uint8_t used;
  };
  static uint32_t Hash(const FlowKey& k);
  void Rehash(size_t new_cap);
  bool Expired(const FlowRecord& r, int64_t now) const {
    return (inactive_ns_ > 0 && now - r.last_ns > inactive_ns_) || (active_ns_ > 0 && now - r.first_ns > active_ns_);
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0, count_ = 0;
  uint32_t next_id_ = 0;
  int64_t inactive_ns_, active_ns_;
  int64_t next_sweep_ns_ = INT64_MIN;
};

}  // namespace netshare
