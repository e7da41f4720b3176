# Idempotent installers for everything the build, demo and tests need.
# Sourced by scripts/build, scripts/demo, scripts/test and scripts/bench;
# each function does nothing when its tool is already in place.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=""
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_rust() {
  export PATH="$HOME/.cargo/bin:$PATH"
  command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
}

# The CLI must match the wasm-bindgen version pinned in Cargo.lock exactly.
ensure_wasm_bindgen() {
  local want have
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' "$REPO_ROOT/Cargo.lock")
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
  if [ "$have" != "$want" ]; then
    log "installing wasm-bindgen-cli $want (have: ${have:-none})"
    # Not --locked: one of its locked dependency versions is not on the registry mirror.
    cargo install wasm-bindgen-cli --version "$want" --force --quiet
  fi
}

ensure_node_modules() {
  command -v npm >/dev/null || apt_install nodejs npm
  local stamp="$REPO_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$REPO_ROOT/package-lock.json" -nt "$stamp" ]; then
    log "installing npm packages"
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Debian's Chromium (Playwright never downloads a browser here) and the
# Public Suffix List that the build bundles.
ensure_debian_packages() {
  apt_install chromium publicsuffix
}

ensure_build_prereqs() {
  ensure_rust
  ensure_wasm_bindgen
  ensure_debian_packages
  ensure_node_modules
}
