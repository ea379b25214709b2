// Large anonymous memory (flow-table index and records, flow and packet column blocks), zero-filled unless asked
// otherwise, with its pages kept for the next read: a process-wide pool of released mappings.
#pragma once
#include <cstddef>
#include <cstdint>

namespace netshare {

// Mapping sizes are whole multiples of this (2 MiB: one transparent huge page).
constexpr size_t kMappingUnit = size_t{2} << 20;

// What AcquireMapping is asked for (flags, or'd).
enum MappingFlags : unsigned {
  kMapZeroed = 1,  // zero-filled (else of unspecified contents: for memory written before it is read)
  // Transparent huge pages requested, for memory probed at random (a flow-table index): far fewer TLB misses. Not for
  // memory written and read in order: on this VM a fresh huge page faulted in at ~0.2-0.3 GB/s (fresh 4 KiB pages at
  // ~1.3 GB/s), which made the first many-flow read of a process pay ~0.7 s of system time for ~200 MB.
  kMapHugePages = 2,
};

// A writable mapping of at least `bytes` bytes; its real length (a multiple of kMappingUnit) is stored in `*len`.
// A mapping released earlier in the process is reused when one is large enough (the smallest that is, of at most
// twice the length asked): its pages are already faulted in, so the only cost is a memset of `bytes` with kMapZeroed,
// nothing without (a memset runs at ~30 GB/s here). Throws std::bad_alloc.
void* AcquireMapping(size_t bytes, size_t* len, unsigned flags = kMapZeroed);

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
