#!/usr/bin/env bash
# Installs what netshare needs on a fresh Debian machine (system packages when missing, npm ci, the build).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(libpcap-dev pkg-config g++ make python3 tshark tcpdump redis-server nfdump chromium fonts-liberation)
need=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q "${need[@]}"
fi
# onnxruntime-node's postinstall downloads CUDA providers from outside the npm registry; the CPU EP ships in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm ci; fi
npm run build
