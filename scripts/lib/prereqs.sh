# Idempotent installers for everything the build, demo, lints and tests need.
# Sourced by scripts/build, scripts/demo, scripts/test, scripts/lint,
# scripts/bench and scripts/package. Each function does nothing when its tool
# is in place, says what it installs when it is not, and stops with what is
# missing and how to get it when it cannot install it.
# tests/install/prereqs.test.sh runs them with every tool absent.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Stops the calling script with what went wrong and what to do about it.
die() {
  printf '\033[1;31merror: %s\033[0m\n' "$*" >&2
  COS_STOPPED_WITH_MESSAGE=1
  exit 1
}

# The safety net under `set -e`: a step that fails without die() (an
# unforeseen command, a `$(tool --version)` of a missing tool) would end the
# script with its status and no word. This names the script and the command.
report_unexplained_exit() {
  local status=$? command=$BASH_COMMAND
  if [ "$status" -eq 0 ] || [ -n "${COS_STOPPED_WITH_MESSAGE:-}" ]; then return; fi
  case $command in trap* | report_unexplained_exit*) command="(see above)" ;; esac
  printf '\033[1;31merror: %s stopped with exit status %s at: %s\033[0m\n' "${0##*/}" "$status" "$command" >&2
}
trap report_unexplained_exit EXIT

have() { command -v "$1" >/dev/null 2>&1; }

# apt_install WHAT PACKAGE...: installs the Debian PACKAGEs that provide WHAT,
# as root or through sudo.
APT_UPDATED=""
apt_install() {
  local what=$1
  shift
  have apt-get || die "missing: $what, and there is no apt-get to install it: install the equivalent of Debian's $* with your package manager"
  local root=()
  if [ "$(id -u)" -ne 0 ]; then
    have sudo || die "missing: $what: install the Debian packages $* as root (apt-get install $*), or install sudo"
    root=(sudo)
  fi
  log "installing $what: Debian packages $* (apt-get)"
  if [ -z "$APT_UPDATED" ]; then
    "${root[@]}" apt-get update -qq || die "apt-get update failed (see above): needed to install $*"
    APT_UPDATED=1
  fi
  "${root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
    die "apt-get install $* failed (see above)"
}

ensure_rust() {
  export PATH="$HOME/.cargo/bin:$PATH"
  if ! have cargo || ! have rustc; then
    die "cargo and rustc not found: install Rust with rustup (https://rustup.rs), then run this again"
  fi
  local sysroot
  sysroot=$(rustc --print sysroot) || die "\`rustc --print sysroot\` failed (see above)"
  [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ] && return
  have rustup || die "the Rust standard library for wasm32-unknown-unknown is missing from $sysroot: install Rust with rustup (https://rustup.rs), or Debian's libstd-rust-dev-wasm32 to match Debian's rustc"
  log "installing the Rust target wasm32-unknown-unknown (rustup target add)"
  rustup target add wasm32-unknown-unknown || die "rustup target add wasm32-unknown-unknown failed (see above)"
}

# rustfmt and clippy for scripts/lint. With rustup, `cargo fmt` exists as a
# proxy even when the component is not installed, so ask it for its version.
ensure_rust_lint_tools() {
  ensure_rust
  local component missing=()
  for component in fmt clippy; do
    cargo "$component" --version >/dev/null 2>&1 || missing+=("$component")
  done
  [ ${#missing[@]} -eq 0 ] && return
  local names=("${missing[@]/fmt/rustfmt}")
  have rustup || die "cargo ${missing[*]} not found: install the Rust components ${names[*]} (rustup component add ${names[*]}, or Debian's rustfmt / rust-clippy)"
  log "installing the Rust components ${names[*]} (rustup component add)"
  rustup component add "${names[@]}" || die "rustup component add ${names[*]} failed (see above)"
}

ensure_node() {
  have node && have npm && return
  apt_install "Node.js and npm" nodejs npm
  if ! have node || ! have npm; then
    die "node and npm are still not on PATH after installing Debian's nodejs and npm"
  fi
}

# Playwright, TypeScript, binaryen's wasm-opt and Transformers.js, as locked
# in package-lock.json.
ensure_node_modules() {
  ensure_node
  local stamp="$REPO_ROOT/node_modules/.package-lock.json"
  [ -f "$stamp" ] && [ ! "$REPO_ROOT/package-lock.json" -nt "$stamp" ] && return
  log "installing npm packages into node_modules/ (npm ci: Playwright, TypeScript, wasm-opt, Transformers.js)"
  (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error) ||
    die "npm ci failed (see above): the npm registry must be reachable"
}

# Debian's Chromium: the tests and the demo drive it; Playwright never
# downloads a browser here.
ensure_chromium() {
  local chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
  [ -x "$chromium" ] && return
  apt_install "Chromium (the browser the tests and the demo drive)" chromium
  [ -x "$chromium" ] || die "no Chromium at $chromium after installing Debian's chromium: set CHROMIUM_PATH to a Chromium 148+ binary"
}

ensure_shellcheck() {
  have shellcheck && return
  apt_install "shellcheck (lints the shell scripts)" shellcheck
}

# scripts/package writes the zip; the e2e suite unpacks it.
ensure_zip() {
  have zip && have unzip && return
  apt_install "zip and unzip (scripts/package)" zip unzip
}

ensure_python_venv() {
  have python3 && python3 -c 'import venv, ensurepip' 2>/dev/null && return
  apt_install "Python 3 with venv (builds the demo model)" python3 python3-venv
  python3 -c 'import venv, ensurepip' || die "python3 cannot create a venv after installing Debian's python3-venv"
}

# The demo model is generated by Python in its own venv (scripts/model/build),
# once: later runs find its stamp and return at once.
ensure_model() {
  ensure_python_venv
  log "demo model in ${COS_CACHE:-$REPO_ROOT/.cache} (built once: a Python venv from PyPI, then the ONNX files)"
  "$REPO_ROOT/scripts/model/build" || die "building the demo model failed (see above): PyPI must be reachable"
}

ensure_build_prereqs() {
  ensure_rust
  ensure_node_modules
}

ensure_demo_prereqs() {
  ensure_build_prereqs
  ensure_chromium
}

ensure_lint_prereqs() {
  ensure_node_modules
  ensure_rust_lint_tools
  ensure_shellcheck
}

ensure_test_prereqs() {
  ensure_build_prereqs
  ensure_lint_prereqs
  ensure_chromium
  ensure_zip
}
