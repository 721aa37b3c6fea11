#!/usr/bin/env bash
# Builds the Worker (wrangler runs this as its build command). worker-build is pointed at the
# project's pinned wasm-bindgen and wasm-opt so it never tries to download them.
#
# wasm-opt takes about a minute on every run, even when nothing changed, and every `wrangler dev` start
# (each end-to-end test binary, each dev restart) runs this script. So the compiled wasm is built first
# (cargo's own incremental check, the same command worker-build runs) and the rest is skipped when that
# wasm and the tool versions equal those of the build already in build/.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
for b in "$WORKER_BUILD_BIN" "$WASM_BINDGEN_BIN" "$WASM_OPT_BIN" "$ESBUILD_BIN"; do
  [ -x "$b" ] || { echo "build: $b is missing; run: npm run bootstrap" >&2; exit 1; }
done
# The dashboard's static assets (docs/adr/0020): a second or less.
node scripts/build-dashboard.mjs --quiet
cargo build --lib --release --target wasm32-unknown-unknown
stamp_file=build/.inputs.sha256
inputs=$( { sha256sum target/wasm32-unknown-unknown/release/edge_saas.wasm scripts/build.sh scripts/env.sh;
            echo "$WORKER_BUILD_VERSION $WASM_BINDGEN_VERSION"; "$WASM_OPT_BIN" --version; } | sha256sum | cut -d' ' -f1)
if [ -f build/index.js ] && [ -f build/index_bg.wasm ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$inputs" ]; then
  echo "build: build/ is up to date with the compiled wasm (wasm-bindgen and wasm-opt skipped)"
  exit 0
fi
rm -f "$stamp_file"
"$WORKER_BUILD_BIN" --release
echo "$inputs" > "$stamp_file"
