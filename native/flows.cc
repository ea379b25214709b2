// Flow table implementation: dense record array + linear-probing index; timeouts compact the records (memory ~
// flows in flight).
#include "flows.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>

namespace netshare {

void ZeroedWords::Free() {
  if (!p_) return;
  if (mapped_) munmap(p_, bytes_);
  else std::free(p_);
  p_ = nullptr;
  n_ = bytes_ = 0;
}

void ZeroedWords::Reset(size_t n) {
  Free();
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = n * sizeof(uint64_t);
  void* p = nullptr;
  if (bytes >= kHuge) {
    const size_t len = (bytes + kHuge - 1) & ~(kHuge - 1);
    p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(p, len, MADV_HUGEPAGE);  // advisory: without THP it is a plain zeroed mapping
#endif
    mapped_ = true;
    bytes_ = len;
  } else {
    p = std::calloc(n ? n : 1, sizeof(uint64_t));
    if (!p) throw std::bad_alloc();
    mapped_ = false;
    bytes_ = bytes;
  }
  p_ = static_cast<uint64_t*>(p);
  n_ = n;
}

FlowTable::FlowTable(int64_t inactive_ns, int64_t active_ns, uint64_t expected_flows)
    : inactive_ns_(inactive_ns), active_ns_(active_ns) {
  size_t cap = size_t{1} << 12;
  const uint64_t want = std::min<uint64_t>(expected_flows, uint64_t{1} << 22);  // index of at most 64 MiB up front
  while (cap < want * 2 + 2) cap <<= 1;  // `want` flows fill at most half: an underestimate still fits before a rehash
  hashes_.reserve(want);
  Rehash(cap);
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
}  // namespace

void FlowTable::Insert(uint32_t hash, uint32_t idx) {
  size_t i = hash & mask_;
  while (index_[i] != 0) i = (i + 1) & mask_;
  index_[i] = (static_cast<uint64_t>(hash) << 32) | (idx + 1u);
}

void FlowTable::Rehash(size_t new_cap) {
  index_.Reset(new_cap);
  mask_ = new_cap - 1;
  const uint32_t n = size_;
  for (uint32_t i = 0; i < n; i++) {  // random stores into the new index: prefetch a few slots ahead
    if (i + 16 < n) __builtin_prefetch(&index_[hashes_[i + 16] & mask_], 1);
    Insert(hashes_[i], i);
  }
  count_ = size_;
}

// Hot path (inlined into AddBatch): probe, update an existing flow; new flows and timeouts go to out-of-line code.
__attribute__((always_inline)) inline uint32_t FlowTable::AddHashed(const FlowKey& key, uint32_t h, int64_t ts, uint32_t bytes,
                                                                    uint8_t tcp_flags, std::vector<FlowRecord>& closed) {
  size_t i = h & mask_;
  for (uint64_t e; (e = index_[i]) != 0; i = (i + 1) & mask_) {
    if (static_cast<uint32_t>(e >> 32) != h) continue;
    FlowRecord& r = Rec(static_cast<uint32_t>(e) - 1);
    if (!SameKey(r.key, key)) continue;
    if ((inactive_ns_ | active_ns_) != 0 && Expired(r, ts)) Reopen(r, ts, closed);
    // First/last are the min/max of the packets' times, not file order (captures merged from several interfaces
    // are not always in time order).
    if (ts > r.last_ns) r.last_ns = ts;
    if (ts < r.first_ns) r.first_ns = ts;
    r.packets++;
    r.bytes += bytes;
    r.tcp_flags |= tcp_flags;
    return r.id;
  }
  return Create(key, h, i, ts, bytes, tcp_flags);
}

__attribute__((noinline)) void FlowTable::Reopen(FlowRecord& r, int64_t ts, std::vector<FlowRecord>& closed) {
  closed.push_back(r);  // timed out: emit, then reuse the record for the new flow
  r.first_ns = r.last_ns = ts;
  r.packets = 0;
  r.bytes = 0;
  r.tcp_flags = 0;
  r.id = next_id_++;
}

__attribute__((noinline)) uint32_t FlowTable::Create(const FlowKey& key, uint32_t h, size_t slot, int64_t ts, uint32_t bytes,
                                                     uint8_t tcp_flags) {
  const uint32_t idx = size_;
  FlowRecord r;
  r.key = key;
  r.first_ns = r.last_ns = ts;
  r.packets = 1;
  r.bytes = bytes;
  r.tcp_flags = tcp_flags;
  r.id = next_id_++;
  Push(r);
  hashes_.push_back(h);
  index_[slot] = (static_cast<uint64_t>(h) << 32) | (idx + 1u);
  if (++count_ * 4 > index_.size() * 3) Rehash(index_.size() * 2);  // max load 0.75 (8-byte slots probe cheaply)
  return r.id;
}

uint32_t FlowTable::Add(const FlowKey& key, int64_t ts, uint32_t bytes, uint8_t tcp_flags,
                        std::vector<FlowRecord>& closed) {
  return AddHashed(key, Hash(key), ts, bytes, tcp_flags, closed);
}

void FlowTable::AddBatch(const FlowKey* keys, const uint32_t* hashes, const uint8_t* valid, const int64_t* ts,
                         const uint32_t* bytes, const uint8_t* tcp_flags, uint32_t n, uint32_t* ids,
                         std::vector<FlowRecord>& closed) {
  constexpr uint32_t kFar = 16, kNear = 8;  // prefetch distances: probe slot, then the record it points to
  for (uint32_t i = 0; i < n; i++) {
    if (i + kFar < n && valid[i + kFar]) __builtin_prefetch(&index_[hashes[i + kFar] & mask_]);
    if (i + kNear < n && valid[i + kNear]) {
      const uint32_t h = hashes[i + kNear];
      const uint64_t e = index_[h & mask_];
      if (e != 0 && static_cast<uint32_t>(e >> 32) == h) {  // a record spans two cache lines: fetch both
        const char* rec = reinterpret_cast<const char*>(&Rec(static_cast<uint32_t>(e) - 1));
        __builtin_prefetch(rec, 1);
        __builtin_prefetch(rec + sizeof(FlowRecord) - 1, 1);
      }
    }
    ids[i] = valid[i] ? AddHashed(keys[i], hashes[i], ts[i], bytes[i], tcp_flags[i], closed) : UINT32_MAX;
  }
}

void FlowTable::MaybeSweep(int64_t now, std::vector<FlowRecord>& closed) {
  if ((inactive_ns_ | active_ns_) == 0 || now < next_sweep_ns_) return;
  int64_t period = INT64_MAX;
  if (inactive_ns_ > 0) period = std::min(period, inactive_ns_);
  if (active_ns_ > 0) period = std::min(period, active_ns_);
  if (__builtin_add_overflow(now, std::max<int64_t>(period / 2, 1), &next_sweep_ns_)) next_sweep_ns_ = INT64_MAX;
  uint32_t keep = 0;
  for (uint32_t i = 0; i < size_; i++) {
    FlowRecord& r = Rec(i);
    if (Expired(r, now)) {
      closed.push_back(r);
    } else {
      if (keep != i) {
        Rec(keep) = r;
        hashes_[keep] = hashes_[i];
      }
      keep++;
    }
  }
  if (keep == size_) return;
  size_ = keep;
  hashes_.resize(keep);
  chunks_.resize((keep + kChunkMask) >> kChunkBits);  // give back memory of flows no longer in flight
  if (hashes_.capacity() > 4 * size_t{keep} + 4096) hashes_.shrink_to_fit();
  size_t cap = index_.size();
  while (cap > (1u << 12) && size_t{keep} * 8 < cap) cap >>= 1;  // shrink with the flows in flight
  Rehash(cap);
}

void FlowTable::Flush(std::vector<FlowRecord>& out) {
  const size_t start = out.size();
  if (out.capacity() < start + size_) {
    out.reserve(start + size_);
    AdviseHuge(out.data(), out.capacity() * sizeof(FlowRecord));
  }
  for (uint32_t i = 0; i < size_; i++) out.push_back(Rec(i));
  auto by_id = [](const FlowRecord& a, const FlowRecord& b) { return a.id < b.id; };
  if (!std::is_sorted(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), by_id))
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(), by_id);
  Clear();
}

std::vector<uint32_t> FlowTable::IdOrder() {
  std::vector<uint32_t> order;
  bool sorted = true;
  for (uint32_t i = 1; i < size_ && sorted; i++) sorted = Rec(i - 1).id < Rec(i).id;
  if (sorted) return order;
  order.resize(size_);
  for (uint32_t i = 0; i < size_; i++) order[i] = i;
  std::sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) { return Rec(a).id < Rec(b).id; });
  return order;
}

void FlowTable::Clear() {
  chunks_.clear();
  size_ = 0;
  hashes_.clear();
  hashes_.shrink_to_fit();
  Rehash(1 << 12);
}

}  // namespace netshare
