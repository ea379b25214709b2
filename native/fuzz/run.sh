#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, -fsanitize=fuzzer,address,undefined) and runs each for a time budget.
# Without clang (CXX_FUZZ unset and no clang++ on PATH) it falls back to g++ with ASan/UBSan and replay_main.cc, a
# driver that runs the seed corpus and random mutants of it: no coverage guidance, so much weaker than libFuzzer (the
# summary says which mode ran).
# Usage: native/fuzz/run.sh [total-seconds=180] [harness...]   (harnesses: decode reader writer; default all)
# Output (binaries, corpora, crash files, logs) goes to ${FUZZ_DIR:-.cache/fuzz}; a summary line per harness is printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
TOTAL=${1:-180}
shift || true
HARNESSES=("${@:-decode reader writer}")
# shellcheck disable=SC2206
HARNESSES=(${HARNESSES[*]})
OUT=${FUZZ_DIR:-.cache/fuzz}
mkdir -p "$OUT"
CXX=${CXX_FUZZ:-clang++}
FLAGS=(-g -O1 -std=c++17 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Inative)
DRIVER=""
KIND=libFuzzer
MODE="libFuzzer ($CXX)"
if [ -z "${CXX_FUZZ:-}" ] && ! command -v clang++ >/dev/null 2>&1; then
  CXX=g++
  FLAGS=(-g -O1 -std=c++17 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -Inative)
  DRIVER=native/fuzz/replay_main.cc
  KIND=replay
  MODE="replay fallback (g++ ASan/UBSan, seed corpus + random mutants, no coverage guidance: clang++ not found)"
fi
echo "== mode: $MODE"
PCAP_FLAGS=$(pkg-config --cflags --libs libpcap)

declare -A SOURCES=(
  [decode]="native/fuzz/fuzz_decode.cc native/decode.cc"
  [reader]="native/fuzz/fuzz_reader.cc native/reader.cc native/input_stream.cc native/pcap_format.cc native/pcapng_format.cc native/decode.cc native/flows.cc native/mapping_pool.cc"
  [writer]="native/fuzz/fuzz_writer.cc native/writer.cc native/checksum.cc native/decode.cc"
)
declare -A SHARE=([decode]=40 [reader]=45 [writer]=15)  # percent of the time budget

VECTORS=../shared/data/vectors
seed_corpus() {
  local h=$1 dir=$2
  mkdir -p "$dir"
  [ -d "$VECTORS" ] || return 0
  case $h in
    reader)  # small capture files as they are
      find "$VECTORS" -maxdepth 1 -type f -size -64k \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.gz' -o -name '*.erf' \) \
        -exec cp -n {} "$dir/" \; ;;
    decode)  # the first records of each classic pcap, one file per record
      python3 - "$VECTORS" "$dir" <<'PY'
import os, struct, sys
src, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    if not name.endswith('.pcap'): continue
    b = open(os.path.join(src, name), 'rb').read()
    if len(b) < 24: continue
    magic = b[:4]
    e = '<' if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>' if magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d') else None
    if e is None: continue
    off, k = 24, 0
    while off + 16 <= len(b) and k < 20:
        caplen = struct.unpack(e + 'I', b[off + 8:off + 12])[0]
        if caplen > 65535 or off + 16 + caplen > len(b): break
        open(os.path.join(dst, f'{name}-{k}'), 'wb').write(b[off + 16:off + 16 + caplen])
        off += 16 + caplen; k += 1
PY
      ;;
  esac
}

for h in "${HARNESSES[@]}"; do
  [ -n "${SOURCES[$h]:-}" ] || { echo "unknown harness: $h" >&2; exit 2; }
  bin="$OUT/fuzz_$h"
  # shellcheck disable=SC2086
  $CXX "${FLAGS[@]}" ${SOURCES[$h]} $DRIVER -o "$bin" $PCAP_FLAGS -lz
  corpus="$OUT/corpus-$h"
  seed_corpus "$h" "$corpus"
  secs=$(( TOTAL * ${SHARE[$h]} / 100 ))
  [ "$secs" -ge 5 ] || secs=5
  log="$OUT/$h.log"
  echo "== fuzz_$h: ${secs}s, corpus $corpus ($(ls "$corpus" | wc -l) files), log $log"
  set +e
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$bin" "$corpus" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$OUT/$h-" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  rate=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
  cov=$(grep -E '#[0-9]+.*cov:' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/' || true)  # none in replay mode
  if [ "$rc" -eq 0 ]; then verdict="no findings"; else verdict="FINDING (exit $rc): $(grep -m1 -E 'ERROR|SUMMARY|runtime error|deadly signal' "$log" || true)"; fi
  echo "fuzz_$h [$KIND]: ${execs:-?} execs (${rate:-?}/s), coverage ${cov:-?} edges: $verdict"
done
