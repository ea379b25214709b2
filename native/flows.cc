// Flow table implementation: linear probing, rehash on growth and on timeout sweeps (memory ~ flows in flight).
#include "flows.h"

#include <algorithm>

namespace netshare {

FlowTable::FlowTable(int64_t inactive_ns, int64_t active_ns) : inactive_ns_(inactive_ns), active_ns_(active_ns) {
  Rehash(1 << 12);
}

uint32_t FlowTable::Hash(const FlowKey& k) {
  uint64_t w[5];
  std::memcpy(w, &k, sizeof(w));
  uint64_t h = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 5; i++) {
    h ^= w[i];
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  h *= 0x94D049BB133111EBull;
  h ^= h >> 29;
  return static_cast<uint32_t>(h);
}

void FlowTable::Rehash(size_t new_cap) {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(new_cap, Slot{});
  mask_ = new_cap - 1;
  count_ = 0;
  for (const Slot& s : old) {
    if (!s.used) continue;
    size_t i = s.hash & mask_;
    while (slots_[i].used) i = (i + 1) & mask_;
    slots_[i] = s;
    count_++;
  }
}

uint32_t FlowTable::Add(const FlowKey& key, int64_t ts, uint32_t bytes, uint8_t tcp_flags,
                        std::vector<FlowRecord>& closed) {
  const uint32_t h = Hash(key);
  size_t i = h & mask_;
  while (slots_[i].used) {
    Slot& s = slots_[i];
    if (s.hash == h && std::memcmp(&s.rec.key, &key, sizeof(FlowKey)) == 0) {
      FlowRecord& r = s.rec;
      if ((inactive_ns_ | active_ns_) != 0 && Expired(r, ts)) {
        closed.push_back(r);  // timed out: emit, then reuse the slot for the new flow
        r.first_ns = ts;
        r.packets = 0;
        r.bytes = 0;
        r.tcp_flags = 0;
        r.id = next_id_++;
      }
      r.last_ns = ts;
      r.packets++;
      r.bytes += bytes;
      r.tcp_flags |= tcp_flags;
      return r.id;
    }
    i = (i + 1) & mask_;
  }
  Slot& s = slots_[i];
  s.used = 1;
  s.hash = h;
  s.rec.key = key;
  s.rec.first_ns = ts;
  s.rec.last_ns = ts;
  s.rec.packets = 1;
  s.rec.bytes = bytes;
  s.rec.tcp_flags = tcp_flags;
  s.rec.id = next_id_++;
  const uint32_t id = s.rec.id;
  if (++count_ * 10 > slots_.size() * 7) Rehash(slots_.size() * 2);
  return id;
}

void FlowTable::MaybeSweep(int64_t now, std::vector<FlowRecord>& closed) {
  if ((inactive_ns_ | active_ns_) == 0 || now < next_sweep_ns_) return;
  int64_t period = INT64_MAX;
  if (inactive_ns_ > 0) period = std::min(period, inactive_ns_);
  if (active_ns_ > 0) period = std::min(period, active_ns_);
  next_sweep_ns_ = now + std::max<int64_t>(period / 2, 1);
  size_t expired = 0;
  for (Slot& s : slots_) {
    if (s.used && Expired(s.rec, now)) {
      closed.push_back(s.rec);
      s.used = 0;
      expired++;
    }
  }
  if (expired == 0) return;
  // Rebuild (probe chains were broken by the removals); shrink when the table is mostly empty.
  size_t live = count_ - expired, cap = slots_.size();
  while (cap > (1u << 12) && live * 10 < cap * 2) cap >>= 1;
  count_ = live;
  Rehash(cap);
}

void FlowTable::Flush(std::vector<FlowRecord>& out) {
  const size_t start = out.size();
  for (const Slot& s : slots_)
    if (s.used) out.push_back(s.rec);
  std::sort(out.begin() + static_cast<std::ptrdiff_t>(start), out.end(),
            [](const FlowRecord& a, const FlowRecord& b) { return a.id < b.id; });
  slots_.assign(1 << 12, Slot{});
  mask_ = slots_.size() - 1;
  count_ = 0;
}

}  // namespace netshare
