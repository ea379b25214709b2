// A libFuzzer stand-in for machines without clang: runs LLVMFuzzerTestOneInput on every corpus file, then on random
// mutations of them (bit flips, byte sets, interesting values, truncation, insertion, deletion, splicing) until a time
// budget is spent. No coverage guidance, so it finds far less than libFuzzer; built with gcc's ASan/UBSan it still
// checks that the harnesses' invariants and memory safety hold on the seeds and on mutants near them.
// Usage: replay <corpus-dir>... [-max_total_time=S] [-seed=N] [-max_len=N] [-artifact_prefix=P] (other -flags are
// ignored). A finding is the harness's own abort or a sanitizer report, which end the process non-zero; the input that
// caused it is left in <P>current-input.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" void __sanitizer_set_death_callback(void (*callback)(void));  // ASan/UBSan runtime

namespace {

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::vector<uint8_t> out;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return out;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.insert(out.end(), buf, buf + n);
  std::fclose(f);
  return out;
}

// The input under test; a finding ends the process, and on the way out (the sanitizer's death callback, or the
// SIGABRT/SIGSEGV handler for a harness's own abort) it is written to g_current.
std::string g_current;
const std::vector<uint8_t>* g_input = nullptr;
void DumpInput() {
  static bool done = false;
  if (done || !g_input) return;
  done = true;
  const int fd = ::open(g_current.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  size_t at = 0;
  while (at < g_input->size()) {
    const ssize_t k = ::write(fd, g_input->data() + at, g_input->size() - at);
    if (k <= 0) break;
    at += static_cast<size_t>(k);
  }
  ::close(fd);
  static const char kMsg[] = "replay: the input that failed is in the artifact file current-input\n";
  (void)!::write(2, kMsg, sizeof kMsg - 1);
}
void OnSignal(int sig) {
  DumpInput();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}
void Save(const std::vector<uint8_t>& in) { g_input = &in; }

void Mutate(std::vector<uint8_t>& d, const std::vector<std::vector<uint8_t>>& corpus, std::mt19937_64& rng, size_t max_len) {
  static const uint32_t kInteresting[] = {0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000u, 0xffffffffu};
  const int steps = 1 + static_cast<int>(rng() % 4);
  for (int s = 0; s < steps; s++) {
    const size_t n = d.size();
    switch (rng() % 8) {
      case 0: if (n) d[rng() % n] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
      case 1: if (n) d[rng() % n] = static_cast<uint8_t>(rng()); break;
      case 2: if (n >= 4) {  // an interesting 1/2/4-byte value, either byte order
        const uint32_t v = kInteresting[rng() % (sizeof kInteresting / sizeof kInteresting[0])];
        const size_t w = size_t{1} << (rng() % 3), at = rng() % (n - w + 1);
        for (size_t k = 0; k < w; k++) d[at + k] = static_cast<uint8_t>(rng() & 1 ? v >> (8 * k) : v >> (8 * (w - 1 - k)));
      } break;
      case 3: if (n) d.resize(rng() % n); break;  // truncate
      case 4: if (n < max_len) d.insert(d.begin() + static_cast<std::ptrdiff_t>(n ? rng() % n : 0), 1 + rng() % 16, static_cast<uint8_t>(rng())); break;
      case 5: if (n > 1) {  // delete a run
        const size_t at = rng() % n, len = 1 + rng() % std::min<size_t>(16, n - at);
        d.erase(d.begin() + static_cast<std::ptrdiff_t>(at), d.begin() + static_cast<std::ptrdiff_t>(at + len));
      } break;
      case 6: if (!corpus.empty()) {  // splice: our head, another seed's tail
        const std::vector<uint8_t>& o = corpus[rng() % corpus.size()];
        if (!o.empty()) {
          const size_t cut = n ? rng() % n : 0, from = rng() % o.size();
          d.resize(cut);
          d.insert(d.end(), o.begin() + static_cast<std::ptrdiff_t>(from), o.end());
        }
      } break;
      default: if (n >= 8) {  // copy a chunk within the input
        const size_t len = 1 + rng() % std::min<size_t>(64, n / 2), a = rng() % (n - len + 1), b = rng() % (n - len + 1);
        std::memmove(&d[b], &d[a], len);
      } break;
    }
    if (d.size() > max_len) d.resize(max_len);
  }
}

}  // namespace

int main(int argc, char** argv) {
  double budget = 10;
  uint64_t seed = 1;
  size_t max_len = 65536;
  std::string prefix = "./";
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    if (a.rfind("-max_total_time=", 0) == 0) budget = std::atof(a.c_str() + 16);
    else if (a.rfind("-seed=", 0) == 0) seed = std::strtoull(a.c_str() + 6, nullptr, 10);
    else if (a.rfind("-max_len=", 0) == 0) max_len = std::strtoull(a.c_str() + 9, nullptr, 10);
    else if (a.rfind("-artifact_prefix=", 0) == 0) prefix = a.substr(17);
    else if (a[0] != '-') dirs.push_back(a);
  }
  g_current = prefix + "current-input";
  __sanitizer_set_death_callback(DumpInput);
  std::signal(SIGABRT, OnSignal);
  std::signal(SIGSEGV, OnSignal);
  std::vector<std::vector<uint8_t>> corpus;
  for (const std::string& dir : dirs) {
    DIR* d = opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      const std::string p = dir + "/" + e->d_name;
      struct stat st;
      if (stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) corpus.push_back(ReadFile(p));
    }
    closedir(d);
  }
  std::mt19937_64 rng(seed);
  if (corpus.empty()) {  // no seeds (fuzz_writer's inputs are raw row bytes): the empty input and random ones
    corpus.emplace_back();
    for (int k = 0; k < 64; k++) {
      std::vector<uint8_t> r(16 + rng() % 112);
      for (auto& b : r) b = static_cast<uint8_t>(rng());
      corpus.push_back(std::move(r));
    }
  }
  // libFuzzer never passes a null pointer, even for an empty input; neither do we.
  static const uint8_t kEmpty[1] = {0};
  auto run = [&](const std::vector<uint8_t>& in) { LLVMFuzzerTestOneInput(in.empty() ? kEmpty : in.data(), in.size()); };
  uint64_t execs = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& in : corpus) {
    Save(in);
    run(in);
    execs++;
  }
  const uint64_t seeds = execs;
  std::vector<uint8_t> cur;
  double secs = 0;
  while ((secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()) < budget) {
    cur = corpus[rng() % corpus.size()];
    Mutate(cur, corpus, rng, max_len);
    Save(cur);
    run(cur);
    execs++;
  }
  g_input = nullptr;
  // The same summary lines as libFuzzer's -print_final_stats, so run.sh reads either.
  std::printf("replay: %zu seeds, %llu mutants, seed %llu, no findings\n", corpus.size(),
              static_cast<unsigned long long>(execs - seeds), static_cast<unsigned long long>(seed));
  std::printf("stat::number_of_executed_units: %llu\n", static_cast<unsigned long long>(execs));
  std::printf("stat::average_exec_per_sec:     %llu\n", static_cast<unsigned long long>(secs > 0 ? execs / secs : 0));
  return 0;
}
