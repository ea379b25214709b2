#!/usr/bin/env bash
# Adds onnxruntime-node's CUDA execution provider (ORT 1.29.0, CUDA 13) next to the installed binding, from the npm
# package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 (onnxruntime-node's own postinstall download is skipped
# because it fetches from outside the npm registry). The CUDA 13 runtime (cudart, cuBLAS/cuBLASLt, cuDNN 9, cuRAND,
# cuFFT) must be on the machine and on LD_LIBRARY_PATH. Then: netshare run ... --device cuda
set -euo pipefail
cd "$(dirname "$0")/.."
ver=$(node -p "require('onnxruntime-node/package.json').version")
[ "$ver" = 1.29.0 ] || { echo "install-cuda-provider: onnxruntime-node is $ver; this provider is built for 1.29.0" >&2; exit 1; }
dest=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 >/dev/null && tar xzf ./*.tgz)
cp "$tmp/package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so" "$tmp/package/Plugins/Linux/x64/libonnxruntime_providers_shared.so" "$dest/"
echo "install-cuda-provider: copied the CUDA provider into $dest"
