#!/usr/bin/env bash
# The demo: set everything up, then learn the embedded default trace (Debian pathspider's real 1-hour enterprise pcap)
# with a demo-sized config (--preset demo, about five minutes on 2 cores) and synthesise a new one.
# Leaves out/demo/synthetic.pcap and out/demo/report.html (out/demo is the workdir: rerunning skips finished stages).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
input=$(bash scripts/fetch-sample.sh)
mkdir -p out/demo
node dist/src/cli/bin.js run --input "$input" --preset demo --workdir out/demo --out out/demo/synthetic.pcap "$@"
echo "demo: wrote out/demo/synthetic.pcap and out/demo/report.html"
