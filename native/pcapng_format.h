// pcapng records: an own block parser (libpcap 1.10 allows one link type per handle and hides interface ids), with
// per-interface link type, snapshot length and timestamp resolution.
#pragma once
#include <cstdint>
#include <memory>

#include "input_stream.h"
#include "record_source.h"

namespace netshare {

// True for the pcapng Section Header Block type, the first four bytes of every pcapng file (read big-endian).
inline bool IsPcapngMagic(uint32_t m) { return m == 0x0a0d0d0a; }

// A source over the pcapng file on `in`; it owns `in.file`. Appends each new interface's link type to
// `stats.linktypes` and warnings (skipped block types) to `stats.warnings` as it reads, so `stats` must outlive it.
std::unique_ptr<RecordSource> OpenPcapng(const InputStream& in, ReaderStats& stats);

}  // namespace netshare
