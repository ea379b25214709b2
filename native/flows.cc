// Flow table implementation: 64-byte flows probed in place (linear probing); timeouts rebuild the table with the flows
// still in flight (memory ~ flows in flight).
#include "flows.h"

#include <sys/mman.h>

#include "mapping_pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace netshare {

void ZeroedWords::Free() {
  if (!p_) return;
  if (mapped_) ReleaseMapping(p_, bytes_);
  else std::free(p_);
  p_ = nullptr;
  n_ = bytes_ = 0;
}

void ZeroedWords::Reset(size_t n) {
  Free();
  const size_t bytes = n * sizeof(uint64_t);
  void* p = nullptr;
  if (bytes >= kMappingUnit) {
    p = AcquireMapping(bytes, &bytes_);  // zero-filled; reused pages of an earlier table or flow block when pooled
    mapped_ = true;
  } else {
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) throw std::bad_alloc();  // 64: whole cache lines
    std::memset(p, 0, bytes ? bytes : 64);
    mapped_ = false;
    bytes_ = bytes;
  }
  p_ = static_cast<uint64_t*>(p);
  n_ = n;
}

FlowTable::FlowTable(int64_t inactive_ns, int64_t active_ns, uint64_t expected_flows)
    : inactive_ns_(inactive_ns), active_ns_(active_ns) {
  const uint64_t want = std::min<uint64_t>(expected_flows, uint64_t{1} << 22);  // at most ~360 MiB of slots up front
  // `want` flows fill at most 3/4; whole 4 KiB pages of slots (64 a page).
  hint_cap_ = std::max<size_t>(size_t{1} << 12, static_cast<size_t>((want * 4 / 3 + 64) & ~uint64_t{63}));
  if ((inactive_ns_ | active_ns_) == 0) slot_of_id_.reserve(static_cast<size_t>(want));
  // Start with one huge page of slots and move to the hinted size only when the flows outgrow it: with huge pages a
  // table is zeroed 2 MiB at a time wherever a flow lands, so a few long flows spread over a hint-sized table made
  // the kernel zero all of it (90-128 MiB for the 1,000-flow benchmark trace); the one early rehash costs little.
  Rehash(std::min(hint_cap_, kFirstCap));
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

void FlowTable::Rehash(size_t new_cap) {
  ZeroedWords mem;
  mem.Reset(new_cap * (sizeof(FlowSlot) / sizeof(uint64_t)));
  auto* slots = reinterpret_cast<FlowSlot*>(mem.data());
  const size_t old_cap = slots_ ? cap_ : 0;
  FlowSlot* const old = slots_;
  slots_ = slots;
  cap_ = new_cap;
  for (size_t i = 0; i < old_cap; i++) {
    const FlowSlot& s = old[i];
    if (s.k1 == 0) continue;
    size_t j = Home(s.hash);
    while (slots[j].k1 != 0) j = Next(j);
    slots[j] = s;
    if (!slot_of_id_.empty()) slot_of_id_[s.id] = static_cast<uint32_t>(j);
  }
  mem_.Swap(mem);
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

// Hot path (inlined into AddBatch): probe in place, update an existing flow; new flows and timeouts go out of line.
// `w`: the key's five words (FlowKey layout: IPv4 src in w[0], dst in w[2]; IPv6 src w[0..1], dst w[2..3]).
__attribute__((always_inline)) inline uint32_t FlowTable::AddHashed(const uint64_t* w, uint32_t h, int64_t ts, uint32_t bytes,
                                                                    uint8_t tcp_flags, std::vector<FlowRecord>& closed) {
  const uint64_t k1 = w[4];
  const bool v4 = Version(k1) == 4;
  const uint64_t k0 = (w[0] & 0xffffffffull) | (w[2] << 32);
  size_t i = Home(h);
  for (;; i = Next(i)) {
    FlowSlot& s = slots_[i];
    if (s.k1 == 0) break;
    if (s.k1 != k1) continue;
    if (v4 ? s.k0 != k0 : (s.hash != h || std::memcmp(&v6_[s.k0], w, 32) != 0)) continue;
    if ((inactive_ns_ | active_ns_) != 0 && Expired(s, ts)) Reopen(s, ts, closed);
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

__attribute__((noinline)) void FlowTable::Reopen(FlowSlot& s, int64_t ts, std::vector<FlowRecord>& closed) {
  closed.push_back(ToRecord(s));  // timed out: emit, then reuse the slot for the new flow
  s.first_ns = s.last_ns = ts;
  s.packets = 0;
  s.bytes = 0;
  s.tcp_flags = 0;
  s.id = next_id_++;
}

__attribute__((noinline)) uint32_t FlowTable::Create(const uint64_t* w, uint32_t h, size_t slot, int64_t ts, uint32_t bytes,
                                                     uint8_t tcp_flags) {
  FlowSlot& s = slots_[slot];
  s.k1 = w[4];
  if (Version(w[4]) == 4) {
    s.k0 = (w[0] & 0xffffffffull) | (w[2] << 32);
  } else {
    s.k0 = v6_.size();
    v6_.insert(v6_.end(), w, w + 4);
  }
  s.first_ns = s.last_ns = ts;
  s.packets = 1;
  s.bytes = bytes;
  s.id = next_id_++;
  s.hash = h;
  s.tcp_flags = tcp_flags;
  const uint32_t id = s.id;
  if ((inactive_ns_ | active_ns_) == 0) slot_of_id_.push_back(static_cast<uint32_t>(slot));
  if (++count_ * 4 > cap_ * 3) Rehash(cap_ < hint_cap_ ? hint_cap_ : cap_ * 2);  // max load 0.75
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
  constexpr uint32_t kAhead = 12;  // prefetch distance: the slot line a packet will probe
  for (uint32_t i = 0; i < n && i < kAhead; i++)
    if (valid[i]) __builtin_prefetch(&slots_[Home(hashes[i])], 1);
  for (uint32_t i = 0; i < n; i++) {
    if (i + kAhead < n && valid[i + kAhead]) __builtin_prefetch(&slots_[Home(hashes[i + kAhead])], 1);
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
  const size_t start = closed.size(), cap = cap_;
  size_t keep = 0;
  for (size_t i = 0; i < cap; i++) {
    const FlowSlot& s = slots_[i];
    if (s.k1 == 0) continue;
    if (Expired(s, now)) closed.push_back(ToRecord(s));
    else keep++;
  }
  if (closed.size() == start) return;
  std::sort(closed.begin() + static_cast<std::ptrdiff_t>(start), closed.end(),
            [](const FlowRecord& a, const FlowRecord& b) { return a.id < b.id; });
  // Rebuild with the flows still in flight (memory follows them): expired slots leave no tombstones behind.
  size_t new_cap = cap;
  while (new_cap > (1u << 12) && keep * 8 < new_cap) new_cap >>= 1;
  ZeroedWords mem;
  mem.Reset(new_cap * (sizeof(FlowSlot) / sizeof(uint64_t)));
  auto* slots = reinterpret_cast<FlowSlot*>(mem.data());
  std::vector<uint64_t> v6;
  FlowSlot* const old = slots_;
  slots_ = slots;
  cap_ = new_cap;
  for (size_t i = 0; i < cap; i++) {
    FlowSlot s = old[i];
    if (s.k1 == 0 || Expired(s, now)) continue;
    if (Version(s.k1) != 4) {
      const size_t at = v6.size();
      v6.insert(v6.end(), v6_.begin() + static_cast<std::ptrdiff_t>(s.k0), v6_.begin() + static_cast<std::ptrdiff_t>(s.k0 + 4));
      s.k0 = at;
    }
    size_t j = Home(s.hash);
    while (slots[j].k1 != 0) j = Next(j);
    slots[j] = s;
  }
  mem_.Swap(mem);
  count_ = keep;
  v6_.swap(v6);
}

void FlowTable::Flush(std::vector<FlowRecord>& out) {
  const std::vector<uint32_t> order = IdOrder();
  if (out.capacity() < out.size() + count_) {
    out.reserve(out.size() + count_);
    AdviseHuge(out.data(), out.capacity() * sizeof(FlowRecord));
  }
  for (size_t k = 0; k < order.size(); k++) out.push_back(Open(k, order));
  Clear();
}

std::vector<uint32_t> FlowTable::IdOrder() const {
  std::vector<uint32_t> order(count_);
  const size_t cap = cap_;
  if (slot_of_id_.size() == count_) return slot_of_id_;  // no timeouts: kept up to date by Create and Rehash
  if (next_id_ == count_) {  // every flow ever created is open: ids are 0..count-1, scatter them
    for (size_t i = 0; i < cap; i++)
      if (slots_[i].k1 != 0) order[slots_[i].id] = static_cast<uint32_t>(i);
    return order;
  }
  std::vector<uint64_t> pairs;
  pairs.reserve(count_);
  for (size_t i = 0; i < cap; i++)
    if (slots_[i].k1 != 0) pairs.push_back(static_cast<uint64_t>(slots_[i].id) << 32 | i);
  std::sort(pairs.begin(), pairs.end());
  for (size_t k = 0; k < pairs.size(); k++) order[k] = static_cast<uint32_t>(pairs[k]);
  return order;
}

void FlowTable::Clear() {
  slots_ = nullptr;
  cap_ = 0;
  count_ = 0;
  std::vector<uint64_t>().swap(v6_);
  std::vector<uint32_t>().swap(slot_of_id_);
  ZeroedWords empty;
  mem_.Swap(empty);
  Rehash(1 << 12);
}

}  // namespace netshare
