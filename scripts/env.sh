# Sourced by the other scripts: pinned tool versions and where they live.
# Tools installed with `cargo install` go to a per-version folder under EDGE_SAAS_TOOLS (outside the repo,
# so a fresh clone on the same machine reuses them); npm tools live in node_modules.
WORKER_BUILD_VERSION=0.8.7
POSTRUST_VERSION=3.1.0
# Must equal the `wasm-bindgen` version in Cargo.lock (Cargo.toml pins it with `=`).
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.lock")

EDGE_SAAS_TOOLS=${EDGE_SAAS_TOOLS:-$HOME/.cache/edge-saas-tools}
PROJECT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

export WORKER_BUILD_BIN="$EDGE_SAAS_TOOLS/worker-build-$WORKER_BUILD_VERSION/bin/worker-build"
export WASM_BINDGEN_BIN="$EDGE_SAAS_TOOLS/wasm-bindgen-$WASM_BINDGEN_VERSION/bin/wasm-bindgen"
export POSTRUST_BIN="$EDGE_SAAS_TOOLS/postrust-$POSTRUST_VERSION/bin/postrust"
export WASM_OPT_BIN="$PROJECT_ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$PROJECT_ROOT/node_modules/.bin/esbuild"
export PG_BINDIR=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
export PATH="$PROJECT_ROOT/node_modules/.bin:$PATH"
export WRANGLER_SEND_METRICS=false
