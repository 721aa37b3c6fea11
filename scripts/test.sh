#!/usr/bin/env bash
# Every test: host unit tests, the JS entry's tests, pgTAP (with every migration reverted and
# re-applied), then the end-to-end suite, which boots its own isolated stacks. Run via `npm test`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "host unit tests (cargo test)"
cargo test --package edge-saas

step "entry wrapper tests (node --test)"
node --test src/entry/

step "build the Worker"
bash scripts/build.sh

step "pgTAP (migrations up, down, up; sql/tests)"
node scripts/stack.mjs pgtap

step "end-to-end tests (cargo test -p e2e)"
cargo test --package e2e -- --test-threads=8
