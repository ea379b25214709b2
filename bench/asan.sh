#!/usr/bin/env bash
# Builds the addon with -fsanitize=address,undefined into a separate folder and runs the native test files under it
# (node itself is not instrumented, so libasan/libubsan are LD_PRELOADed). Run it whenever native/ changes.
# Usage: bench/asan.sh [vitest file filters...]   (default: tests/native)
# Env: ASAN_BUILD_DIR (default .cache/asan-addon); ASAN_REUSE=1 skips the rebuild when that build exists. Exit status: vitest's (non-zero on any test or sanitizer failure).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=${ASAN_BUILD_DIR:-$ROOT/.cache/asan-addon}
FILTERS=("${@:-tests/native}")

ADDON="$DIR/build/Release/netshare_native.node"
if [ -n "${ASAN_REUSE:-}" ] && [ -f "$ADDON" ]; then
  echo "== reusing $ADDON (ASAN_REUSE set)"
else
  rm -rf "$DIR"
  mkdir -p "$DIR"
  cp binding.gyp "$DIR/"
  cp -r native "$DIR/native"
  rm -rf "$DIR/native/fuzz"  # libFuzzer mains are not part of the addon
  [ -f .npmrc ] && cp .npmrc "$DIR/.npmrc"
  ln -s "$ROOT/node_modules" "$DIR/node_modules"
  # A private package.json so `npm run` puts npm's bundled node-gyp on PATH.
  printf '{ "name": "netshare-asan-addon", "private": true, "scripts": { "build": "node-gyp rebuild" } }\n' >"$DIR/package.json"

  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
  echo "== building the addon with $SAN in $DIR"
  (cd "$DIR" && CC=gcc CXX=g++ CFLAGS="$SAN" CXXFLAGS="$SAN" LDFLAGS="-fsanitize=address,undefined" npm run --silent build >"$DIR/build.log" 2>&1) || {
    tail -30 "$DIR/build.log"
    echo "asan.sh: the sanitizer build failed (log: $DIR/build.log)" >&2
    exit 1
  }
fi
[ "$(nm -D "$ADDON" | grep -c __asan_)" -gt 0 ] || { echo "asan.sh: $ADDON is not instrumented" >&2; exit 1; }

PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"

# Self-check: a one-function addon with a heap overflow must be caught in this node setup, or the run proves nothing.
cat >"$DIR/canary.c" <<'C'
#include <node_api.h>
#include <stdlib.h>
static napi_value Oob(napi_env env, napi_callback_info info) {
  (void)env; (void)info;
  char* volatile p = malloc(8);
  p[8] = 1;
  free(p);
  return NULL;
}
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "oob", NAPI_AUTO_LENGTH, Oob, NULL, &fn);
  napi_set_named_property(env, exports, "oob", fn);
  return exports;
}
C
NODE_INC=$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")
[ -f "$NODE_INC/node_api.h" ] || NODE_INC=$(find "$HOME/.cache/node-gyp" /usr/include/node -name node_api.h -printf '%h\n' 2>/dev/null | head -1)
gcc -shared -fPIC -g -fsanitize=address,undefined -I"$NODE_INC" "$DIR/canary.c" -o "$DIR/canary.node"
canary_out=$(LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0 node -e "require('$DIR/canary.node').oob()" 2>&1 || true)
if [[ $canary_out == *'ERROR: AddressSanitizer: heap-buffer-overflow'* ]]; then
  echo "== sanitizer self-check: a planted heap overflow in a test addon is reported"
else
  echo "asan.sh: the sanitizer runtime does not catch a planted overflow under node; the results would mean nothing" >&2
  exit 1
fi
LOG="$DIR/sanitizer"
echo "== running vitest ${FILTERS[*]} with NETSHARE_NATIVE_ADDON=$ADDON"
set +e
NETSHARE_NATIVE_ADDON="$ADDON" LD_PRELOAD="$PRELOAD" \
  ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$LOG:handle_segv=1:allow_user_segv_handler=1" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$LOG" \
  node "$ROOT/node_modules/vitest/vitest.mjs" run "${FILTERS[@]}"
rc=$?
set -e
if compgen -G "$LOG*" >/dev/null; then
  echo "asan.sh: sanitizer reports:" >&2
  cat "$LOG"* >&2
  [ "$rc" -ne 0 ] || rc=1
fi
echo "asan.sh: vitest exit $rc ($( [ "$rc" -eq 0 ] && echo 'no sanitizer reports' || echo 'FAILED'))"
exit "$rc"
