#!/usr/bin/env bash
# Installs everything the local stack and the tests need, at pinned versions. Idempotent: when all is
# present it only checks versions and returns in seconds. Works as root or as a user with sudo.
# Fails with a message naming what is missing when it cannot install something.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31mbootstrap: %s\033[0m\n' "$*" >&2; exit 1; }

need_cmd() { command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed ($2)"; }
need_cmd cargo "install Rust with rustup"
need_cmd rustup "install Rust with rustup"
need_cmd node "install Node.js and npm (Debian: apt-get install nodejs npm)"
need_cmd npm "install npm (Debian: apt-get install npm)"

if [ "$(id -u)" = 0 ]; then SUDO=(); elif command -v sudo >/dev/null; then SUDO=(sudo -n); else SUDO=(false); fi
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "cannot install $*: no apt-get; install them by hand"
  if [ $apt_updated = 0 ]; then "${SUDO[@]}" apt-get update -qq || die "apt-get update failed (are you root or a passwordless sudoer?)"; apt_updated=1; fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed; install them by hand"
}

# 1. Rust target for Workers.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown || die "could not add the wasm32-unknown-unknown target"
fi

# rustfmt and clippy for the lint gates of `npm test`.
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    say "rustup component add $component"
    rustup component add "$component" || die "could not add the $component component"
  fi
done

# 2. cargo-installed tools, each in its own versioned folder.
cargo_tool() { # crate version bin-path
  local crate=$1 version=$2 bin=$3 root
  if [ -x "$bin" ]; then return; fi
  root=$(dirname "$(dirname "$bin")")
  say "cargo install $crate $version (one-off, a few minutes)"
  # --locked first (the crate's own lockfile); some of those lockfiles name dependency versions the
  # registry no longer serves, and then the install resolves afresh within the crate's own ranges.
  cargo install -q "$crate" --version "$version" --locked --root "$root" 2>/dev/null \
    || cargo install -q "$crate" --version "$version" --root "$root" \
    || die "cargo install $crate $version failed"
}
[ -n "$WASM_BINDGEN_VERSION" ] || die "could not read the wasm-bindgen version from Cargo.lock"
cargo_tool worker-build "$WORKER_BUILD_VERSION" "$WORKER_BUILD_BIN"
cargo_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION" "$WASM_BINDGEN_BIN"
cargo_tool postrust-server "$POSTRUST_VERSION" "$POSTRUST_BIN"

# 3. npm: wrangler, Node 22 for it, binaryen's wasm-opt (versions pinned in package.json + lock).
if [ ! -x node_modules/.bin/wrangler ] || [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/node ] \
   || [ ! -d node_modules/playwright-core ] || [ ! -x node_modules/.bin/redocly ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed"
fi
node_modules/.bin/node -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' \
  || die "node_modules/.bin/node is not Node >= 22 (npm package 'node' failed to install its binary)"
# The local queue dispatches consumer batches side by side, as Cloudflare does (docs/adr/0017).
node_modules/.bin/node scripts/patch-local-queues.mjs || die "could not patch the local queue (scripts/patch-local-queues.mjs)"

# 4. PostgreSQL server and pgTAP from Debian's packages.
pkgs=()
[ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/initdb" ] || pkgs+=(postgresql)
command -v psql >/dev/null || pkgs+=(postgresql-client)
if [ ${#pkgs[@]} -gt 0 ]; then apt_install "${pkgs[@]}"; source "$(dirname "$0")/env.sh"; fi
pg_major=$(basename "$(dirname "$PG_BINDIR")")
if ! ls /usr/share/postgresql/"$pg_major"/extension/pgtap.control >/dev/null 2>&1; then
  apt_install "postgresql-$pg_major-pgtap"
fi
command -v pg_prove >/dev/null || apt_install libtap-parser-sourcehandler-pgtap-perl
# 5. Headless Chromium for the local Browser Rendering server (driven by playwright-core from npm).
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || apt_install chromium
[ -x "$PG_BINDIR/initdb" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"

# 6. Schemathesis (the contract fuzz, tests/fuzz) in a project-local virtual environment, pinned in
#    tests/fuzz/requirements.txt.
need_cmd python3 "Debian: apt-get install python3"
fuzz_pin=$(sed -n 's/^schemathesis==//p' tests/fuzz/requirements.txt)
if [ "$(.venv/bin/schemathesis --version 2>/dev/null | awk '{print $NF}')" != "$fuzz_pin" ]; then
  python3 -m venv .venv 2>/dev/null || { apt_install python3-venv; python3 -m venv .venv; } || die "could not create .venv"
  say "pip install schemathesis $fuzz_pin (into .venv)"
  .venv/bin/pip install -q --disable-pip-version-check -r tests/fuzz/requirements.txt || die "pip install schemathesis failed"
fi

say "ready (wasm-bindgen $WASM_BINDGEN_VERSION, worker-build $WORKER_BUILD_VERSION, postrust $POSTRUST_VERSION, PostgreSQL $pg_major, $("${CHROMIUM_PATH:-/usr/bin/chromium}" --version 2>/dev/null | head -1), schemathesis $fuzz_pin)"
