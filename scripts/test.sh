#!/usr/bin/env bash
# Every test: the lint gates (rustfmt, clippy, the dashboard's type check, the OpenAPI linter), host unit tests, the JS entry's tests, pgTAP (with every migration reverted and
# re-applied), then the end-to-end suite and the dashboard's browser tests, which boot their own isolated stacks. Run via `npm test`.
# Ends with one line totalling every runner: "summary: N passed, N failed".
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
out=$(mktemp); trap 'rm -f "$out"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lint (cargo fmt --check; cargo clippy -D warnings for the host, wasm32, the e2e crate and bench/floor/rs)"
cargo fmt --all --check
cargo clippy --package edge-saas --lib --tests -- -D warnings
cargo clippy --package edge-saas --lib --target wasm32-unknown-unknown -- -D warnings
cargo clippy --package e2e --tests --benches -- -D warnings
# The CPU floor benchmark's Rust Worker (its own workspace, docs/adr/0021): kept building.
cargo fmt --manifest-path bench/floor/rs/Cargo.toml --check
cargo clippy --manifest-path bench/floor/rs/Cargo.toml --target wasm32-unknown-unknown -- -D warnings
node --check scripts/floor.mjs
node --check bench/floor/js/index.js
# The profiler (npm run profile) needs a running dev stack, so no test runs it: at least it parses.
node --check scripts/profile.mjs

step "dashboard type check (tsc --noEmit, strict: dashboard/src)"
node_modules/.bin/tsc -p dashboard

step "OpenAPI lint (Redocly, recommended rules: docs/openapi.json)"
node_modules/.bin/redocly lint docs/openapi.json --format=stylish 2>&1 | grep -v -e '^ *$' -e '[║╔╚]'

step "host unit tests (cargo test)"
cargo test --package edge-saas --lib 2>&1 | tee -a "$out"

step "entry wrapper tests (node --test)"
node --test "src/entry/*.test.mjs" 2>&1 | tee -a "$out"

step "build the Worker"
bash scripts/build.sh

step "pgTAP (migrations up, down, up; sql/tests)"
node scripts/stack.mjs pgtap 2>&1 | tee -a "$out"

step "end-to-end tests (cargo test -p e2e)"
cargo test --package e2e --tests -- --test-threads=8 2>&1 | tee -a "$out"

step "dashboard in Chromium (node --test tests/dashboard; screenshots in target/dashboard-screenshots)"
node_modules/.bin/node --test "tests/dashboard/*.test.mjs" 2>&1 | tee -a "$out"

passed=$(( $(grep -oE 'test result: .* ([0-9]+) passed' "$out" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}') \
         + $(grep -oE '^# pass [0-9]+' "$out" | awk '{s+=$3} END {print s+0}') \
         + $(grep -oE 'Tests=[0-9]+' "$out" | cut -d= -f2 | awk '{s+=$1} END {print s+0}') ))
failed=$(( $(grep -oE '[0-9]+ failed' "$out" | awk '{s+=$1} END {print s+0}') + $(grep -oE '^# fail [0-9]+' "$out" | awk '{s+=$3} END {print s+0}') ))
printf '\nsummary: %d passed, %d failed\n' "$passed" "$failed"
