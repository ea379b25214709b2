// Large zero-filled anonymous memory (flow tables, flow and packet column blocks) with its pages kept for the next
// read: a process-wide pool of released mappings.
#pragma once
#include <cstddef>
#include <cstdint>

namespace netshare {

// Mapping sizes are whole multiples of this (2 MiB: one transparent huge page).
constexpr size_t kMappingUnit = size_t{2} << 20;

// A writable mapping of at least `bytes` bytes, transparent huge pages requested, zero-filled (with `zero` false: of
// unspecified contents, for memory written before it is read); its real length (a multiple of kMappingUnit) is stored
// in `*len`. A mapping released earlier in the process is reused when one is large enough (the smallest that is, of
// at most twice the length asked): its pages are already faulted in, so the only cost is a memset of `bytes`, or
// nothing without `zero` (on this 2-core VM the kernel's fault-and-zero of fresh 2 MiB pages ran at ~1.3 GB/s, a
// memset at ~30 GB/s). Throws std::bad_alloc.
void* AcquireMapping(size_t bytes, size_t* len, bool zero = true);

// Gives back a mapping of AcquireMapping (`len` as it returned), marked MADV_FREE (the kernel may still reclaim its
// pages under memory pressure). The pool keeps the largest kPoolMappings mappings up to kPoolBytes; the rest are
// unmapped.
void ReleaseMapping(void* p, size_t len);

// Pool limits.
constexpr size_t kPoolMappings = 8;
constexpr size_t kPoolBytes = size_t{1} << 30;

// What the pool holds now, and how many AcquireMapping calls it served since the process started (for tests and
// benchmarks: the addon exports it as mappingPool()).
struct MappingPoolStats {
  size_t mappings, bytes;
  uint64_t reused;
};
MappingPoolStats PoolStats();

}  // namespace netshare
