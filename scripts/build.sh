#!/usr/bin/env bash
# Builds the Worker (wrangler runs this as its build command). worker-build is pointed at the
# project's pinned wasm-bindgen and wasm-opt so it never tries to download them.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
for b in "$WORKER_BUILD_BIN" "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  [ -x "$b" ] || { echo "build: $b is missing; run: npm run bootstrap" >&2; exit 1; }
done
exec "$WORKER_BUILD_BIN" --release
