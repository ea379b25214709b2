// Process-wide pool of released large mappings (see mapping_pool.h). Thread-safe: blocks are filled on libuv worker
// threads and released by garbage-collection finalizers on the main thread.
#include "mapping_pool.h"

#include <sys/mman.h>

#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
// Under AddressSanitizer a pooled mapping is poisoned: a use after release is reported as it would be after munmap.
#define NETSHARE_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define NETSHARE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define NETSHARE_POISON(p, n) ((void)(p), (void)(n))
#define NETSHARE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace netshare {
namespace {

struct Pooled {
  void* p;
  size_t len;
};

std::mutex& PoolMutex() {
  static std::mutex m;
  return m;
}

std::vector<Pooled>& Pool() {
  static std::vector<Pooled>* pool = new std::vector<Pooled>();  // never destroyed: finalizers may run at exit
  return *pool;
}

size_t& PoolTotal() {
  static size_t total = 0;
  return total;
}

uint64_t& PoolReused() {
  static uint64_t reused = 0;
  return reused;
}

}  // namespace

void* AcquireMapping(size_t bytes, size_t* len, unsigned flags) {
  const size_t want = (bytes + kMappingUnit - 1) & ~(kMappingUnit - 1);
  void* p = nullptr;
  size_t got = 0;
  {
    std::lock_guard<std::mutex> lock(PoolMutex());
    std::vector<Pooled>& pool = Pool();
    size_t best = pool.size();
    for (size_t i = 0; i < pool.size(); i++)
      if (pool[i].len >= want && pool[i].len / 2 <= want && (best == pool.size() || pool[i].len < pool[best].len)) best = i;
    if (best < pool.size()) {
      p = pool[best].p;
      got = pool[best].len;
      PoolTotal() -= got;
      PoolReused()++;
      pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(best));
    }
  }
  if (p) {
    NETSHARE_UNPOISON(p, got);
    // MADV_FREE'd pages read back either their old bytes or, where the kernel reclaimed them, zeros: clear them.
    if (flags & kMapZeroed) std::memset(p, 0, bytes);
#ifdef MADV_HUGEPAGE
    if (flags & kMapHugePages) madvise(p, got, MADV_HUGEPAGE);  // (a mapping first used without: later faults only)
#endif
    *len = got;
    return p;
  }
  // One unit more than needed, then trimmed to a 2 MiB-aligned start: transparent huge pages cover only aligned 2 MiB
  // (a fresh mapping is zero-filled by the kernel, with or without kMapZeroed).
  void* raw = mmap(nullptr, want + kMappingUnit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t r = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t a = (r + kMappingUnit - 1) & ~uintptr_t{kMappingUnit - 1};
  if (a > r) munmap(raw, a - r);
  if (a + want < r + want + kMappingUnit) munmap(reinterpret_cast<void*>(a + want), r + want + kMappingUnit - (a + want));
  p = reinterpret_cast<void*>(a);
#ifdef MADV_HUGEPAGE
  if (flags & kMapHugePages) madvise(p, want, MADV_HUGEPAGE);  // advisory: without THP it is a plain zeroed mapping
#endif
  *len = want;
  return p;
}

void ReleaseMapping(void* p, size_t len) {
  if (!p) return;
#ifdef MADV_FREE
  // Before the mapping is in the pool (another thread may take it at once): reclaimable under memory pressure, and
  // pages the kernel leaves alone stay faulted in for the next AcquireMapping (which clears them either way).
  madvise(p, len, MADV_FREE);
#endif
  NETSHARE_POISON(p, len);
  std::vector<Pooled> drop;
  {
    std::lock_guard<std::mutex> lock(PoolMutex());
    std::vector<Pooled>& pool = Pool();
    pool.push_back({p, len});
    PoolTotal() += len;
    // Over the limits: the smallest mappings go first (a many-flow table or flow block saves the most faults).
    while (pool.size() > kPoolMappings || PoolTotal() > kPoolBytes) {
      size_t smallest = 0;
      for (size_t i = 1; i < pool.size(); i++)
        if (pool[i].len < pool[smallest].len) smallest = i;
      drop.push_back(pool[smallest]);
      PoolTotal() -= pool[smallest].len;
      pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(smallest));
    }
  }
  for (const Pooled& d : drop) {
    NETSHARE_UNPOISON(d.p, d.len);  // the addresses may be mapped again by anyone
    munmap(d.p, d.len);
  }
}

MappingPoolStats PoolStats() {
  std::lock_guard<std::mutex> lock(PoolMutex());
  return {Pool().size(), PoolTotal(), PoolReused()};
}

}  // namespace netshare
