#!/usr/bin/env bash
# Fetches the demo's default input: the real 1-hour enterprise pcap shipped in Debian's pathspider package.
# Prints the path of the extracted pcap. Never committed: it lives in .cache/.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/sample/real.pcap
if [ ! -s "$dest" ]; then
  mkdir -p .cache/sample/deb
  ( cd .cache/sample/deb && rm -f pathspider_*.deb && { apt-get download pathspider >&2 2>/dev/null || { apt-get update -q >&2 && apt-get download pathspider >&2; }; } )
  dpkg-deb -x .cache/sample/deb/pathspider_*.deb .cache/sample/deb/root
  cp .cache/sample/deb/root/usr/lib/python3/dist-packages/pathspider/tests/data/real.pcap "$dest.tmp"
  mv "$dest.tmp" "$dest"
  rm -rf .cache/sample/deb
fi
echo "$dest"
