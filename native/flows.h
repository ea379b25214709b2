// Native 5-tuple flow table: open addressing with linear probing, optional inactive/active timeouts.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
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

// A zero-filled array of 8-byte words; 2 MiB or more come from mmap with transparent huge pages requested, so random
// probes into a large flow index miss the TLB far less (and fault in 2 MiB at a time).
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

 private:
  void Free();
  uint64_t* p_ = nullptr;
  size_t n_ = 0, bytes_ = 0;
  bool mapped_ = false;
};

class FlowTable {
 public:
  // Timeouts in ns; 0 = off (NetShare has none: one flow per 5-tuple over the whole trace).
  // `expected_flows`: a size hint (0 = none) so the index need not grow by rehashing while the table fills.
  FlowTable(int64_t inactive_ns, int64_t active_ns, uint64_t expected_flows = 0);

  // Adds one packet, returns its flow id. Flows closed by a timeout are appended to `closed`.
  uint32_t Add(const FlowKey& key, int64_t ts_ns, uint32_t bytes, uint8_t tcp_flags, std::vector<FlowRecord>& closed);

  // Adds n packets in order (same result as n calls of Add) with software prefetching of the probe table and the
  // flow records, which hides most cache misses on traces with many flows. `hashes[i]` = Hash(keys[i]); packets
  // with valid[i] == 0 are skipped and get id UINT32_MAX.
  void AddBatch(const FlowKey* keys, const uint32_t* hashes, const uint8_t* valid, const int64_t* ts,
                const uint32_t* bytes, const uint8_t* tcp_flags, uint32_t n, uint32_t* ids,
                std::vector<FlowRecord>& closed);

  static uint32_t Hash(const FlowKey& k) {
    uint64_t w[5];
    std::memcpy(w, &k, sizeof(w));
    return HashWords(w[0], w[1], w[2], w[3], w[4]);
  }

  // Expires flows idle (or too long) at time `now_ns` when a timeout is set and enough time has passed since the
  // last sweep; cheap to call per batch. Expired flows are appended to `closed`.
  void MaybeSweep(int64_t now_ns, std::vector<FlowRecord>& closed);

  // Appends every open flow (sorted by id) to `out` and empties the table.
  void Flush(std::vector<FlowRecord>& out);

  // Copy-free alternative to Flush for a caller that converts the flows itself: Open(k) for k < open_flows() is
  // the k-th open flow in id order (IdOrder() once, then Open(k, order)); Clear() then empties the table.
  std::vector<uint32_t> IdOrder();  // empty when records are already in id order (always, without timeouts)
  const FlowRecord& Open(size_t k, const std::vector<uint32_t>& order) {
    return Rec(order.empty() ? static_cast<uint32_t>(k) : order[k]);
  }
  void Clear();

  uint64_t flows_created() const { return next_id_; }
  size_t open_flows() const { return count_; }

 private:
  uint32_t AddHashed(const FlowKey& key, uint32_t h, int64_t ts, uint32_t bytes, uint8_t tcp_flags,
                     std::vector<FlowRecord>& closed);
  uint32_t Create(const FlowKey& key, uint32_t h, size_t slot, int64_t ts, uint32_t bytes, uint8_t tcp_flags);
  void Reopen(FlowRecord& r, int64_t ts, std::vector<FlowRecord>& closed);
  void Rehash(size_t new_cap);
  void Insert(uint32_t hash, uint32_t idx);
  // now - then, saturated (timestamps may be clamped to the int64 range).
  static int64_t Since(int64_t now, int64_t then) {
    int64_t d;
    return __builtin_sub_overflow(now, then, &d) ? (now > then ? INT64_MAX : INT64_MIN) : d;
  }
  bool Expired(const FlowRecord& r, int64_t now) const {
    return (inactive_ns_ > 0 && Since(now, r.last_ns) > inactive_ns_) || (active_ns_ > 0 && Since(now, r.first_ns) > active_ns_);
  }

  // Open flows, densely stored; the index is a small probe table of (hash << 32 | record index + 1), 0 = empty,
  // so probing touches 8 bytes per slot and only the matching record is read.
  // Records live in fixed-size chunks (no copy of all flows when the table grows).
  // A chunk is 2.5 MiB: its first 2 MiB can be one transparent huge page (ZeroedWords' mmap + advice).
  static constexpr uint32_t kChunkBits = 15;
  static constexpr uint32_t kChunkMask = (1u << kChunkBits) - 1;
  static_assert(std::is_trivially_copyable<FlowRecord>::value, "records live in raw mapped chunks");
  FlowRecord& Rec(uint32_t i) { return reinterpret_cast<FlowRecord*>(chunks_[i >> kChunkBits]->data())[i & kChunkMask]; }
  void Push(const FlowRecord& r) {
    if ((size_ >> kChunkBits) == chunks_.size()) {
      chunks_.emplace_back(new ZeroedWords);
      chunks_.back()->Reset((sizeof(FlowRecord) << kChunkBits) / sizeof(uint64_t));
    }
    Rec(size_++) = r;
  }
  std::vector<std::unique_ptr<ZeroedWords>> chunks_;
  uint32_t size_ = 0;
  std::vector<uint32_t> hashes_;  // hash of record i
  ZeroedWords index_;
  size_t mask_ = 0, count_ = 0;
  uint32_t next_id_ = 0;
  int64_t inactive_ns_, active_ns_;
  int64_t next_sweep_ns_ = INT64_MIN;
};

}  // namespace netshare
