// libFuzzer harness for the whole reader: the input is a capture file (pcap, pcapng, gzip, anything), read through
// netshare::Reader with flow aggregation on. A ReaderError is the expected outcome for bad input; any other
// exception, crash, leak or sanitizer report is a finding. Build + run: native/fuzz/run.sh.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "reader.h"

namespace {
struct Columns {
  explicit Columns(uint32_t cap) {
#define NETSHARE_FUZZ_ALLOC(name, type, width)             \
  storage.emplace_back(static_cast<size_t>(cap) * (width)); \
  cols.name = reinterpret_cast<type*>(storage.back().data());
    storage.reserve(40);
    NETSHARE_PACKET_COLUMNS(NETSHARE_FUZZ_ALLOC)
#undef NETSHARE_FUZZ_ALLOC
    cols.capacity = cap;
  }
  std::vector<std::vector<uint64_t>> storage;  // uint64_t: aligned for every column type
  netshare::BatchColumns cols;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1 << 20) return 0;
  // The reader opens paths, so hand it an in-memory file.
  static int fd = -1;
  if (fd < 0) fd = memfd_create("netshare-fuzz", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  for (int keep = 0; keep < 2; keep++) {
    netshare::ReaderOptions opts;
    opts.flows = true;
    opts.inactive_ns = 1000000000;  // exercise timeouts too
    opts.keep_valid_prefix = keep == 1;
    try {
      netshare::Reader reader(path, opts);
      reader.Open();
      Columns c(64);
      std::vector<netshare::FlowRecord> flows;
      bool done = false;
      for (int batches = 0; !done && batches < 100000; batches++) {
        for (auto& s : c.storage) std::fill(s.begin(), s.end(), 0);  // the reader expects zeroed buffers
        const uint32_t n = reader.Fill(c.cols, flows, done);
        if (n > c.cols.capacity) std::abort();
        flows.clear();
      }
    } catch (const netshare::ReaderError&) {
      // bad input, reported as it should be
    }
  }
  return 0;
}
