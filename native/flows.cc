// Flow table implementation: an index of (hash, record) entries probed linearly over records appended in id order;
// timeouts compact the records and rebuild the index with the flows still in flight.
#include "flows.h"

#include <sys/mman.h>

#include "mapping_pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace netshare {

void ZeroedWords::Free() {
  if (!p_) return;
  if (mapped_) ReleaseMapping(p_, bytes_);
  else std::free(p_);
  p_ = nullptr;
  n_ = bytes_ = 0;
}

void ZeroedWords::Reset(size_t n, bool zero, bool huge) {
  Free();
  const size_t bytes = n * sizeof(uint64_t);
  void* p = nullptr;
  if (bytes >= kMappingUnit) {
    // reused pages of an earlier table or flow block when pooled
    p = AcquireMapping(bytes, &bytes_, (zero ? kMapZeroed : 0u) | (huge ? kMapHugePages : 0u));
    mapped_ = true;
  } else {
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) throw std::bad_alloc();  // 64: whole cache lines
    if (zero) std::memset(p, 0, bytes ? bytes : 64);
    mapped_ = false;
    bytes_ = bytes;
  }
  p_ = static_cast<uint64_t*>(p);
  n_ = n;
}

FlowTable::FlowTable(int64_t inactive_ns, int64_t active_ns, uint64_t expected_flows)
    : inactive_ns_(inactive_ns), active_ns_(active_ns) {
  const uint64_t want = std::min<uint64_t>(expected_flows, uint64_t{1} << 22);  // at most 256 MiB of records up front
  // `want` flows fill at most 3/4 of the index; whole 4 KiB pages of entries (512 a page).
  hint_icap_ = std::max<size_t>(size_t{1} << 12, static_cast<size_t>((want * 4 / 3 + 512) & ~uint64_t{511}));
  // The records are written in order from the start of their array, so a hint-sized array costs only the pages the
  // flows fill (a trace of few long flows touches one).
  hint_rcap_ = std::max<size_t>(size_t{1} << 12, static_cast<size_t>(want));
  Init();
}

void FlowTable::Init() {
  icap_ = std::min(hint_icap_, kFirstIndexCap);
  index_mem_.Reset(icap_, /*zero=*/true, /*huge=*/true);
  index_ = index_mem_.data();
  rcap_ = hint_rcap_;
  rec_mem_.Reset(rcap_ * (sizeof(FlowSlot) / sizeof(uint64_t)), /*zero=*/false, /*huge=*/true);
  recs_ = reinterpret_cast<FlowSlot*>(rec_mem_.data());
  nrec_ = 0;
  count_ = 0;
}

namespace {
// Asks for transparent huge pages on the whole 2 MiB pages inside [p, p + n) (a large malloc'd block is its own
// mapping): fewer page faults when a big flow vector is filled. Advisory only.
void AdviseHuge(void* p, size_t n) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + n) & ~(kHuge - 1);
#ifdef MADV_HUGEPAGE
  if (b > a) madvise(reinterpret_cast<void*>(a), b - a, MADV_HUGEPAGE);
#else
  (void)a;
  (void)b;
#endif
}

constexpr uint32_t Version(uint64_t k1) { return static_cast<uint32_t>(k1 >> 40) & 0xff; }
}  // namespace

void FlowTable::ResizeIndex(size_t new_cap) {
  ZeroedWords mem;
  mem.Reset(new_cap, /*zero=*/true, /*huge=*/true);
  uint64_t* const index = mem.data();
  const uint64_t* const old = index_;
  const size_t old_cap = icap_;
  index_ = index;
  icap_ = new_cap;
  for (size_t i = 0; i < old_cap; i++) {  // the entries carry their hash: no record is read
    const uint64_t e = old[i];
    if (e == 0) continue;
    size_t j = Home(static_cast<uint32_t>(e));
    while (index[j] != 0) j = Next(j);
    index[j] = e;
  }
  index_mem_.Swap(mem);
}

void FlowTable::GrowRecords() {
  // Record positions (+ 1) are 32 bits in an index entry, ids are 32 bits too.
  constexpr size_t kMax = size_t{UINT32_MAX} - 1;
  if (rcap_ >= kMax) throw std::length_error("flow table: more than 4294967294 flow records");
  const size_t new_cap = std::min(kMax, std::max<size_t>(rcap_ * 2, size_t{1} << 12));
  ZeroedWords mem;
  mem.Reset(new_cap * (sizeof(FlowSlot) / sizeof(uint64_t)), /*zero=*/false, /*huge=*/true);
  if (nrec_) std::memcpy(mem.data(), recs_, nrec_ * sizeof(FlowSlot));
  recs_ = reinterpret_cast<FlowSlot*>(mem.data());
  rcap_ = new_cap;
  rec_mem_.Swap(mem);
}

void FlowTable::Compact(size_t index_cap) {
  size_t out = 0;
  std::vector<uint64_t> v6;
  for (size_t r = 0; r < nrec_; r++) {
    FlowSlot s = recs_[r];
    if (s.k1 == 0) continue;
    if (Version(s.k1) != 4) {
      const size_t at = v6.size();
      v6.insert(v6.end(), v6_.begin() + static_cast<std::ptrdiff_t>(s.k0), v6_.begin() + static_cast<std::ptrdiff_t>(s.k0 + 4));
      s.k0 = at;
    }
    recs_[out++] = s;
  }
  nrec_ = count_ = out;
  v6_.swap(v6);
  ZeroedWords mem;
  mem.Reset(index_cap, /*zero=*/true, /*huge=*/true);
  index_ = mem.data();
  icap_ = index_cap;
  for (size_t r = 0; r < out; r++) {
    size_t j = Home(recs_[r].hash);
    while (index_[j] != 0) j = Next(j);
    index_[j] = Entry(recs_[r].hash, r);
  }
  index_mem_.Swap(mem);
}

FlowRecord FlowTable::ToRecord(const FlowSlot& s) const {
  FlowRecord r;
  std::memset(&r, 0, sizeof r);
  const uint32_t v = Version(s.k1);
  if (v == 4) {
    const uint32_t src = static_cast<uint32_t>(s.k0), dst = static_cast<uint32_t>(s.k0 >> 32);
    std::memcpy(r.key.src, &src, 4);
    std::memcpy(r.key.dst, &dst, 4);
  } else {
    std::memcpy(r.key.src, &v6_[s.k0], 16);
    std::memcpy(r.key.dst, &v6_[s.k0 + 2], 16);
  }
  r.key.sport = static_cast<uint16_t>(s.k1);
  r.key.dport = static_cast<uint16_t>(s.k1 >> 16);
  r.key.proto = static_cast<uint8_t>(s.k1 >> 32);
  r.key.version = static_cast<uint8_t>(v);
  r.first_ns = s.first_ns;
  r.last_ns = s.last_ns;
  r.packets = s.packets;
  r.bytes = s.bytes;
  r.id = s.id;
  r.tcp_flags = s.tcp_flags;
  return r;
}

// Hot path (inlined into AddBatch): probe the index, update an existing flow; new flows and timeouts go out of line.
// `w`: the key's five words (FlowKey layout: IPv4 src in w[0], dst in w[2]; IPv6 src w[0..1], dst w[2..3]).
__attribute__((always_inline)) inline uint32_t FlowTable::AddHashed(const uint64_t* w, uint32_t h, int64_t ts, uint32_t bytes,
                                                                    uint8_t tcp_flags, std::vector<FlowRecord>& closed) {
  const uint64_t k1 = w[4];
  const bool v4 = Version(k1) == 4;
  const uint64_t k0 = (w[0] & 0xffffffffull) | (w[2] << 32);
  size_t i = Home(h);
  for (;; i = Next(i)) {
    const uint64_t e = index_[i];
    if (e == 0) break;
    if (static_cast<uint32_t>(e) != h) continue;
    const size_t r = static_cast<size_t>(e >> 32) - 1;
    FlowSlot& s = recs_[r];
    if (s.k1 != k1) continue;
    if (v4 ? s.k0 != k0 : std::memcmp(&v6_[s.k0], w, 32) != 0) continue;
    if ((inactive_ns_ | active_ns_) != 0 && Expired(s, ts)) return Reopen(i, r, ts, bytes, tcp_flags, closed);
    // First/last are the min/max of the packets' times, not file order (captures merged from several interfaces
    // are not always in time order).
    if (ts > s.last_ns) s.last_ns = ts;
    if (ts < s.first_ns) s.first_ns = ts;
    s.packets++;
    s.bytes += bytes;
    s.tcp_flags |= tcp_flags;
    return s.id;
  }
  return Create(w, h, i, ts, bytes, tcp_flags);
}

FlowSlot& FlowTable::Append(uint64_t k0, uint64_t k1, uint32_t h, int64_t ts, uint32_t bytes, uint8_t tcp_flags) {
  if (nrec_ == rcap_) GrowRecords();
  FlowSlot& s = recs_[nrec_++];
  s.k0 = k0;
  s.k1 = k1;
  s.first_ns = s.last_ns = ts;
  s.packets = 1;
  s.bytes = bytes;
  s.id = next_id_++;
  s.hash = h;
  s.tcp_flags = tcp_flags;
  std::memset(s.pad, 0, sizeof s.pad);
  return s;
}

// Timed out: the old record is emitted and left dead (Compact drops it), the packet opens a new flow at the end of
// the records (so they stay in id order), and the index entry moves to it.
__attribute__((noinline)) uint32_t FlowTable::Reopen(size_t entry, size_t rec, int64_t ts, uint32_t bytes, uint8_t tcp_flags,
                                                     std::vector<FlowRecord>& closed) {
  closed.push_back(ToRecord(recs_[rec]));
  const uint64_t k0 = recs_[rec].k0, k1 = recs_[rec].k1;  // (an IPv6 flow keeps its addresses' place in v6_)
  const uint32_t h = recs_[rec].hash;
  recs_[rec].k1 = 0;
  const uint32_t id = Append(k0, k1, h, ts, bytes, tcp_flags).id;
  index_[entry] = Entry(h, nrec_ - 1);
  return id;
}

__attribute__((noinline)) uint32_t FlowTable::Create(const uint64_t* w, uint32_t h, size_t entry, int64_t ts, uint32_t bytes,
                                                     uint8_t tcp_flags) {
  uint64_t k0;
  if (Version(w[4]) == 4) {
    k0 = (w[0] & 0xffffffffull) | (w[2] << 32);
  } else {
    k0 = v6_.size();
    v6_.insert(v6_.end(), w, w + 4);
  }
  const uint32_t id = Append(k0, w[4], h, ts, bytes, tcp_flags).id;
  index_[entry] = Entry(h, nrec_ - 1);
  if (++count_ * 4 > icap_ * 3) ResizeIndex(icap_ < hint_icap_ ? hint_icap_ : icap_ * 2);  // max load 0.75
  return id;
}

uint32_t FlowTable::Add(const FlowKey& key, int64_t ts, uint32_t bytes, uint8_t tcp_flags, std::vector<FlowRecord>& closed) {
  uint64_t w[5];
  std::memcpy(w, &key, sizeof w);
  return AddHashed(w, Hash(key), ts, bytes, tcp_flags, closed);
}

void FlowTable::AddBatch(const FlowKey* keys, const uint32_t* hashes, const uint8_t* valid, const int64_t* ts,
                         const uint32_t* bytes, const uint8_t* tcp_flags, uint32_t n, uint32_t* ids,
                         std::vector<FlowRecord>& closed) {
  constexpr uint32_t kAhead = 12;  // prefetch distance: the index entry a packet will probe (none: 1.5x the time)
  for (uint32_t i = 0; i < n && i < kAhead; i++)
    if (valid[i]) __builtin_prefetch(&index_[Home(hashes[i])]);
  for (uint32_t i = 0; i < n; i++) {
    if (i + kAhead < n && valid[i + kAhead]) __builtin_prefetch(&index_[Home(hashes[i + kAhead])]);
    if (!valid[i]) {
      ids[i] = UINT32_MAX;
      continue;
    }
    uint64_t w[5];
    std::memcpy(w, &keys[i], sizeof w);
    ids[i] = AddHashed(w, hashes[i], ts[i], bytes[i], tcp_flags[i], closed);
  }
}

void FlowTable::MaybeSweep(int64_t now, std::vector<FlowRecord>& closed) {
  if ((inactive_ns_ | active_ns_) == 0 || now < next_sweep_ns_) return;
  int64_t period = INT64_MAX;
  if (inactive_ns_ > 0) period = std::min(period, inactive_ns_);
  if (active_ns_ > 0) period = std::min(period, active_ns_);
  if (__builtin_add_overflow(now, std::max<int64_t>(period / 2, 1), &next_sweep_ns_)) next_sweep_ns_ = INT64_MAX;
  size_t keep = 0;
  for (size_t r = 0; r < nrec_; r++) {  // records in id order: the expired ones come out sorted
    FlowSlot& s = recs_[r];
    if (s.k1 == 0) continue;
    if (Expired(s, now)) {
      closed.push_back(ToRecord(s));
      s.k1 = 0;
    } else {
      keep++;
    }
  }
  if (keep == nrec_) return;
  // Rebuild with the flows still in flight (the index follows them): expired flows leave no tombstones behind.
  size_t cap = icap_;
  while (cap > (1u << 12) && keep * 8 < cap) cap >>= 1;
  Compact(cap);
}

void FlowTable::Flush(std::vector<FlowRecord>& out) {
  const FlowSlot* open = OpenFlows();
  if (out.capacity() < out.size() + count_) {
    out.reserve(out.size() + count_);
    AdviseHuge(out.data(), out.capacity() * sizeof(FlowRecord));
  }
  for (size_t k = 0; k < count_; k++) out.push_back(ToRecord(open[k]));
  Clear();
}

const FlowSlot* FlowTable::OpenFlows() {
  if (nrec_ != count_) Compact(icap_);
  return recs_;
}

void FlowTable::Clear() {
  std::vector<uint64_t>().swap(v6_);
  // Empty and small again: the large index and records go back to the mapping pool for the next read.
  hint_icap_ = hint_rcap_ = size_t{1} << 12;
  Init();
}

}  // namespace netshare
