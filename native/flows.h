// Native 5-tuple flow table: a compact open-addressing index over 64-byte flow records kept in id order; optional
// inactive/active timeouts.
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

// A 64-byte aligned array of 8-byte words, zero-filled unless Reset says otherwise; 2 MiB or more come from the
// mapping pool (mapping_pool.h: pages of an earlier read's table or flow block reused, so a second read in the process
// is not faulted in and zeroed page by page by the kernel; huge pages where Reset asks for them).
class ZeroedWords {
 public:
  ZeroedWords() = default;
  ZeroedWords(const ZeroedWords&) = delete;
  ZeroedWords& operator=(const ZeroedWords&) = delete;
  ~ZeroedWords() { Free(); }
  // n words (old contents dropped): zero-filled, or with `zero` false of unspecified contents (for arrays written
  // before they are read: a reused mapping is then not cleared). `huge`: transparent huge pages for a mapping (for
  // arrays probed at random; see kMapHugePages).
  void Reset(size_t n, bool zero = true, bool huge = false);
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

// One flow record, one cache line. Records are appended in creation (= id) order to a dense array; the hash index
// (FlowTable) points at them. IPv6 addresses do not fit: their 32 bytes live in a side array that `k0` indexes.
struct alignas(64) FlowSlot {
  uint64_t k0;  // IPv4: src | dst << 32 (host order); IPv6: index into the table's IPv6 addresses
  uint64_t k1;  // sport | dport << 16 | proto << 32 | version << 40; 0 = a dead record (version is 4 or 6)
  int64_t first_ns, last_ns;
  uint64_t packets, bytes;
  uint32_t id, hash;
  uint8_t tcp_flags;
  uint8_t pad[7];
};
static_assert(sizeof(FlowSlot) == 64, "a flow is one cache line");

// 5-tuple flow table: an open-addressing index of 8-byte entries (the key's 32-bit hash and the record's position)
// over FlowSlot records stored densely in id order. A probe reads one small entry (8 to a cache line), the record only
// when the hash matches: the index of the 1.57 M-flow benchmark trace is 20 MB (the last-level cache here is 32 MB)
// where 64-byte slots probed in place took 162 MB, and a warm flows-only read of it went from ~0.38 to ~0.28 CPU s.
// Records are written once, at the end of the array, and read back in order for the final flows (no per-id scatter).
class FlowTable {
 public:
  // Timeouts in ns; 0 = off (NetShare has none: one flow per 5-tuple over the whole trace).
  // `expected_flows`: a size hint (0 = none) so neither the index nor the records grow while the table fills.
  FlowTable(int64_t inactive_ns, int64_t active_ns, uint64_t expected_flows = 0);

  // Adds one packet, returns its flow id. Flows closed by a timeout are appended to `closed`.
  uint32_t Add(const FlowKey& key, int64_t ts_ns, uint32_t bytes, uint8_t tcp_flags, std::vector<FlowRecord>& closed);

  // Adds n packets in order (same result as n calls of Add) with software prefetching of the index entries.
  // `hashes[i]` = Hash(keys[i]); packets with valid[i] == 0 are skipped and get id UINT32_MAX.
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

  // Copy-free alternative to Flush for a caller that converts the flows itself: the open flows in id order,
  // OpenFlows()[0 .. open_flows()) (records of flows re-opened after a timeout are dropped first). Valid until the
  // table changes; Clear() then empties it.
  const FlowSlot* OpenFlows();
  // An IPv6 flow's addresses (src 16 bytes, then dst).
  const uint64_t* Ipv6Words(const FlowSlot& s) const { return &v6_[s.k0]; }
  bool has_ipv6() const { return !v6_.empty(); }  // some open flow is IPv6
  void Clear();

  uint64_t flows_created() const { return next_id_; }
  size_t open_flows() const { return count_; }

 private:
  uint32_t AddHashed(const uint64_t* w, uint32_t h, int64_t ts, uint32_t bytes, uint8_t tcp_flags,
                     std::vector<FlowRecord>& closed);
  uint32_t Create(const uint64_t* w, uint32_t h, size_t entry, int64_t ts, uint32_t bytes, uint8_t tcp_flags);
  uint32_t Reopen(size_t entry, size_t rec, int64_t ts, uint32_t bytes, uint8_t tcp_flags, std::vector<FlowRecord>& closed);
  FlowSlot& Append(uint64_t k0, uint64_t k1, uint32_t h, int64_t ts, uint32_t bytes, uint8_t tcp_flags);
  void GrowRecords();
  void ResizeIndex(size_t new_cap);
  // Drops dead records (their flows re-opened or expired), keeping the order, and rebuilds the index over the rest.
  void Compact(size_t index_cap);
  void Init();
  FlowRecord ToRecord(const FlowSlot& s) const;
  // now - then, saturated (timestamps may be clamped to the int64 range).
  static int64_t Since(int64_t now, int64_t then) {
    int64_t d;
    return __builtin_sub_overflow(now, then, &d) ? (now > then ? INT64_MAX : INT64_MIN) : d;
  }
  bool Expired(const FlowSlot& s, int64_t now) const {
    return (inactive_ns_ > 0 && Since(now, s.last_ns) > inactive_ns_) || (active_ns_ > 0 && Since(now, s.first_ns) > active_ns_);
  }
  static uint64_t Entry(uint32_t h, size_t rec) { return static_cast<uint64_t>(rec + 1) << 32 | h; }

  // A flow's first index entry: the hash scaled to the capacity (multiply-shift), so the capacity need not be a power
  // of two and a size hint gets an index of about hint / 0.75 entries instead of up to twice that.
  size_t Home(uint32_t h) const { return static_cast<size_t>((uint64_t{h} * icap_) >> 32); }
  size_t Next(size_t i) const { return i + 1 == icap_ ? 0 : i + 1; }

  ZeroedWords index_mem_;  // the index entries: hash | (record position + 1) << 32; 0 = empty
  uint64_t* index_ = nullptr;
  size_t icap_ = 0;
  size_t count_ = 0;  // open flows = index entries in use
  ZeroedWords rec_mem_;  // the records (not zero-filled: each is written before it is read)
  FlowSlot* recs_ = nullptr;
  size_t nrec_ = 0, rcap_ = 0;  // records in use (open + dead) and room
  // Index entries that start small: a trace of few flows touches one 2 MiB page of index, not a hint-sized index of
  // which (with huge pages) every page a flow hashes to is faulted in and zeroed; the first growth goes to the hint.
  static constexpr size_t kFirstIndexCap = size_t{1} << 18;
  size_t hint_icap_ = 0, hint_rcap_ = 0;
  std::vector<uint64_t> v6_;  // IPv6 src (2 words) + dst (2 words) per IPv6 flow, indexed by FlowSlot::k0
  uint32_t next_id_ = 0;
  int64_t inactive_ns_, active_ns_;
  int64_t next_sweep_ns_ = INT64_MIN;
};

}  // namespace netshare
