// Native 5-tuple flow table: open addressing with linear probing over 64-byte flows, optional inactive/active timeouts.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
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
static_assert(sizeof(FlowKey) % 8 == 0, "records are stored in arrays of 8-byte words");

// One finished (or, at end of input, still open) flow.
struct FlowRecord {
  FlowKey key;
  int64_t first_ns, last_ns;  // min and max of its packets' times
  uint64_t packets, bytes;
  uint32_t id;       // creation order, starting at 0; a flow re-opened after a timeout gets a new id
  uint8_t tcp_flags; // union over its packets
};

// Mixes the 5 key words (src 16 B, dst 16 B, ports/proto/version 8 B) into a 32-bit hash.
inline uint32_t HashWords(uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3, uint64_t w4) {
  uint64_t h = (w0 * 0x9E3779B97F4A7C15ull) ^ (w1 * 0xC2B2AE3D27D4EB4Full) ^ (w2 * 0x165667B19E3779F9ull) ^
               (w3 * 0xD6E8FEB86659FD93ull) ^ (w4 * 0xFF51AFD7ED558CCDull);
  h ^= h >> 32;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return static_cast<uint32_t>(h);
}

// Builds `k` from its words with whole-word stores (no byte stores read back as words) and returns its hash.
// One 8-byte store per word: gathering the words in a local array first made the compiler copy it with 16-byte loads
// of two 8-byte stores (a store-forwarding stall of ~15 cycles per packet).
inline uint32_t MakeKey(FlowKey& k, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3, uint64_t w4) {
  char* p = reinterpret_cast<char*>(&k);
  std::memcpy(p, &w0, 8);
  std::memcpy(p + 8, &w1, 8);
  std::memcpy(p + 16, &w2, 8);
  std::memcpy(p + 24, &w3, 8);
  std::memcpy(p + 32, &w4, 8);
  return HashWords(w0, w1, w2, w3, w4);
}

// Key equality as five word compares folded into one branch (memcmp of 40 bytes costs a call and a byte loop).
inline bool SameKey(const FlowKey& a, const FlowKey& b) {
  uint64_t x[5], y[5];
  std::memcpy(x, &a, sizeof x);
  std::memcpy(y, &b, sizeof y);
  return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
}

// A zero-filled, 64-byte aligned array of 8-byte words; 2 MiB or more come from the mapping pool (mapping_pool.h:
// transparent huge pages requested, so random probes into a large flow table miss the TLB far less; pages of an
// earlier read's table or flow block reused, so a second read in the process is not zeroed page by page by the kernel).
class ZeroedWords {
 public:
  ZeroedWords() = default;
  ZeroedWords(const ZeroedWords&) = delete;
  ZeroedWords& operator=(const ZeroedWords&) = delete;
  ~ZeroedWords() { Free(); }
  void Reset(size_t n);  // n zero words (old contents dropped)
  uint64_t& operator[](size_t i) { return p_[i]; }
  uint64_t* data() { return p_; }
  uint64_t operator[](size_t i) const { return p_[i]; }
  size_t size() const { return n_; }
  void Swap(ZeroedWords& o) {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(bytes_, o.bytes_);
    std::swap(mapped_, o.mapped_);
  }

 private:
  void Free();
  uint64_t* p_ = nullptr;
  size_t n_ = 0, bytes_ = 0;
  bool mapped_ = false;
};

// One open flow, stored in the hash table itself: a probe reads the key in place, so a hit costs one cache line
// (an index slot plus an 80-byte record straddling two lines cost two or three misses). IPv6 addresses do not fit:
// their 32 bytes live in a side array that `k0` indexes.
struct alignas(64) FlowSlot {
  uint64_t k0;  // IPv4: src | dst << 32 (host order); IPv6: index into the table's IPv6 addresses
  uint64_t k1;  // sport | dport << 16 | proto << 32 | version << 40; 0 = empty slot (version is 4 or 6)
  int64_t first_ns, last_ns;
  uint64_t packets, bytes;
  uint32_t id, hash;
  uint8_t tcp_flags;
  uint8_t pad[7];
};
static_assert(sizeof(FlowSlot) == 64, "a flow is one cache line");

class FlowTable {
 public:
  // Timeouts in ns; 0 = off (NetShare has none: one flow per 5-tuple over the whole trace).
  // `expected_flows`: a size hint (0 = none) so the table need not grow by rehashing while it fills.
  FlowTable(int64_t inactive_ns, int64_t active_ns, uint64_t expected_flows = 0);

  // Adds one packet, returns its flow id. Flows closed by a timeout are appended to `closed`.
  uint32_t Add(const FlowKey& key, int64_t ts_ns, uint32_t bytes, uint8_t tcp_flags, std::vector<FlowRecord>& closed);

  // Adds n packets in order (same result as n calls of Add) with software prefetching of the slots, which hides
  // most cache misses on traces with many flows. `hashes[i]` = Hash(keys[i]); packets with valid[i] == 0 are skipped
  // and get id UINT32_MAX.
  void AddBatch(const FlowKey* keys, const uint32_t* hashes, const uint8_t* valid, const int64_t* ts,
                const uint32_t* bytes, const uint8_t* tcp_flags, uint32_t n, uint32_t* ids,
                std::vector<FlowRecord>& closed);

  static uint32_t Hash(const FlowKey& k) {
    uint64_t w[5];
    std::memcpy(w, &k, sizeof(w));
    return HashWords(w[0], w[1], w[2], w[3], w[4]);
  }

  // Expires flows idle (or too long) at time `now_ns` when a timeout is set and enough time has passed since the
  // last sweep; cheap to call per batch. Expired flows are appended to `closed` in id order.
  void MaybeSweep(int64_t now_ns, std::vector<FlowRecord>& closed);

  // Appends every open flow (sorted by id) to `out` and empties the table.
  void Flush(std::vector<FlowRecord>& out);

  // Copy-free alternative to Flush for a caller that converts the flows itself: Open(k, order) for k < open_flows()
  // is the k-th open flow in id order (order = IdOrder(), once); Clear() then empties the table.
  std::vector<uint32_t> IdOrder() const;
  // The same order without a copy where the table keeps it (no timeouts: the slot of each id); else IdOrder() into
  // `scratch`. Valid until the table changes.
  const std::vector<uint32_t>& IdOrder(std::vector<uint32_t>& scratch) const {
    if (slot_of_id_.size() == count_) return slot_of_id_;
    scratch = IdOrder();
    return scratch;
  }
  FlowRecord Open(size_t k, const std::vector<uint32_t>& order) const { return ToRecord(slots_[order[k]]); }
  // Hints that Open(k, order) follows soon (the slots are in hash order: reading them in id order misses per flow).
  void Prefetch(size_t k, const std::vector<uint32_t>& order) const {
    if (k < order.size()) __builtin_prefetch(&slots_[order[k]]);
  }
  // The same flow as Open(k, order) read in place (no FlowRecord built): its key words (FlowSlot) and, for IPv6, its
  // addresses (src 16 bytes, then dst) from Ipv6Words.
  const FlowSlot& OpenSlot(size_t k, const std::vector<uint32_t>& order) const { return slots_[order[k]]; }
  const uint64_t* Ipv6Words(const FlowSlot& s) const { return &v6_[s.k0]; }
  bool has_ipv6() const { return !v6_.empty(); }  // some open flow is IPv6
  void Clear();

  uint64_t flows_created() const { return next_id_; }
  size_t open_flows() const { return count_; }

 private:
  uint32_t AddHashed(const uint64_t* w, uint32_t h, int64_t ts, uint32_t bytes, uint8_t tcp_flags,
                     std::vector<FlowRecord>& closed);
  uint32_t Create(const uint64_t* w, uint32_t h, size_t slot, int64_t ts, uint32_t bytes, uint8_t tcp_flags);
  void Reopen(FlowSlot& s, int64_t ts, std::vector<FlowRecord>& closed);
  void Rehash(size_t new_cap);
  FlowRecord ToRecord(const FlowSlot& s) const;
  // now - then, saturated (timestamps may be clamped to the int64 range).
  static int64_t Since(int64_t now, int64_t then) {
    int64_t d;
    return __builtin_sub_overflow(now, then, &d) ? (now > then ? INT64_MAX : INT64_MIN) : d;
  }
  bool Expired(const FlowSlot& s, int64_t now) const {
    return (inactive_ns_ > 0 && Since(now, s.last_ns) > inactive_ns_) || (active_ns_ > 0 && Since(now, s.first_ns) > active_ns_);
  }

  // A flow's first slot: the hash scaled to the capacity (multiply-shift), so the capacity need not be a power of two
  // and a size hint gets a table of about hint / 0.75 slots instead of up to twice that (every slot of a table that
  // many flows spread over is faulted in and zeroed by the kernel: its size is most of a many-flow read's system time).
  size_t Home(uint32_t h) const { return static_cast<size_t>((uint64_t{h} * cap_) >> 32); }
  size_t Next(size_t i) const { return i + 1 == cap_ ? 0 : i + 1; }

  ZeroedWords mem_;       // the slots (64-byte aligned, zero = empty)
  FlowSlot* slots_ = nullptr;
  size_t cap_ = 0, count_ = 0;
  static constexpr size_t kFirstCap = size_t{1} << 15;  // 2 MiB of slots: one huge page
  size_t hint_cap_ = 0;  // the capacity the size hint asks for; the first growth goes straight there
  std::vector<uint64_t> v6_;  // IPv6 src (2 words) + dst (2 words) per IPv6 flow, indexed by FlowSlot::k0 / 4
  // Without timeouts: the slot of each flow id (ids are dense), so the final flows are listed in id order without a
  // scan of every slot. Empty with timeouts.
  std::vector<uint32_t> slot_of_id_;
  uint32_t next_id_ = 0;
  int64_t inactive_ns_, active_ns_;
  int64_t next_sweep_ns_ = INT64_MIN;
};

}  // namespace netshare
