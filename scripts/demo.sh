#!/usr/bin/env bash
# The demo: set everything up, then run netshare on the embedded default input (Debian pathspider's real pcap).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
input=$(bash scripts/fetch-sample.sh)
mkdir -p out/demo
node dist/src/cli/bin.js convert "$input" --to out/demo/flows.csv --flows
echo "demo: wrote out/demo/flows.csv"
