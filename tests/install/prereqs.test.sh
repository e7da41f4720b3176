#!/usr/bin/env bash
# The install path on a machine without the tools it installs.
#
# Each scenario runs scripts/lib/prereqs.sh, as scripts/test and scripts/demo
# do, in a sandbox: a copy of the repository's scripts without node_modules/,
# a model cache, a Rust sysroot without the wasm32 target, and a PATH of bare
# essentials plus fake tools (tests/install/fake-tool) that record each call.
# The fake installers (apt-get, rustup, npm) "install" by adding the fake of
# what they installed. It checks that each missing tool is installed with the
# right command, or named in an error with a non-zero exit: never a silent stop.
#
# Usage: tests/install/prereqs.test.sh [PREREQS_FILE]
#   PREREQS_FILE  another prereqs.sh to test (default scripts/lib/prereqs.sh),
#                 e.g. an old one: git show REV:scripts/lib/prereqs.sh > /tmp/p.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
prereqs=$(readlink -f "${1:-$repo/scripts/lib/prereqs.sh}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What any Debian machine has: the fakes and prereqs.sh may use these.
ESSENTIALS=(bash env dirname readlink mkdir touch ln ls grep awk cat rm)
passed=0 failed=0 current="" sb=""

# scenario NAME FAKE...: a fresh sandbox whose PATH has the essentials and the
# given fake tools, and nothing else.
scenario() {
  current=$1
  shift
  sb="$work/$((passed + failed))"
  mkdir -p "$sb/bin" "$sb/home" "$sb/state" "$sb/sysroot/lib/rustlib/x86_64-unknown-linux-gnu" \
    "$sb/repo/scripts/lib" "$sb/repo/scripts/model"
  cp "$prereqs" "$sb/repo/scripts/lib/prereqs.sh"
  cp "$repo/scripts/model/build" "$sb/repo/scripts/model/"
  cp "$repo/package-lock.json" "$repo/Cargo.lock" "$sb/repo/"
  touch "$sb/calls"
  local tool
  for tool in "${ESSENTIALS[@]}"; do ln -s "$(command -v "$tool")" "$sb/bin/$tool"; done
  for tool in "$@"; do ln -s "$here/fake-tool" "$sb/bin/$tool"; done
}

# run [VAR=VALUE...] SNIPPET: runs SNIPPET in a script that starts as
# scripts/test does, in the sandbox (only the sandbox's environment, no stdin).
run() {
  local vars=()
  while [[ $1 =~ ^[A-Z_]+= ]]; do vars+=("$1") && shift; done
  # shellcheck disable=SC2016 # the script's own text, expanded when it runs
  printf '%s\n' '#!/usr/bin/env bash' 'set -euo pipefail' '. "$(dirname "$0")/lib/prereqs.sh"' "$1" \
    >"$sb/repo/scripts/scenario"
  status=0
  env -i PATH="$sb/bin" HOME="$sb/home" FAKE_SANDBOX="$sb" CHROMIUM_PATH="$sb/usr/bin/chromium" \
    COS_CACHE="$sb/cache" "${vars[@]}" "$sb/bin/bash" "$sb/repo/scripts/scenario" \
    </dev/null >"$sb/stdout" 2>"$sb/stderr" || status=$?
}

problems=()
problem() { problems+=("$*"); }
expect_ok() { [ "$status" -eq 0 ] || problem "exit status $status, expected 0"; }
expect_failure() {
  [ "$status" -ne 0 ] || problem "exit status 0, expected a failure"
  grep -q 'error' "$sb/stderr" || problem "no error message on stderr"
}
expect_call() { grep -Fxq -- "$1" "$sb/calls" || problem "no call: $1"; }
expect_no_call() { ! grep -Eq -- "$1" "$sb/calls" || problem "unexpected call matching: $1"; }
expect_stderr() { grep -Fq -- "$1" "$sb/stderr" || problem "stderr does not say: $1"; }
# An apt-get install, however the packages were grouped, installed PACKAGE.
expect_apt_installed() {
  grep -Eq -- "^apt-get install -y -qq( [^ ]+)* $1( |$)" "$sb/calls" || problem "apt-get did not install $1"
}

verdict() {
  if [ ${#problems[@]} -eq 0 ]; then
    passed=$((passed + 1))
    printf '  ok    %s\n' "$current"
  else
    failed=$((failed + 1))
    printf '  FAIL  %s\n' "$current"
    printf '          %s\n' "${problems[@]}" "--- stderr:" 
    sed 's/^/          /' "$sb/stderr"
    printf '          %s\n' "--- calls:"
    sed 's/^/          /' "$sb/calls"
  fi
  problems=()
}

# A fresh Debian machine with Rust (rustup), as root: everything else is missing.
FRESH_ROOT=(id apt-get dpkg-query cargo rustc rustup)

scenario "scripts/build on a fresh machine installs what it needs" "${FRESH_ROOT[@]}"
run 'ensure_build_prereqs'
expect_ok
for pkg in nodejs npm; do expect_apt_installed "$pkg"; done
expect_call "rustup target add wasm32-unknown-unknown"
expect_call "npm ci --no-audit --no-fund --loglevel=error"
expect_no_call '^cargo install'
verdict

scenario "scripts/test on a fresh machine installs everything it needs, saying what" "${FRESH_ROOT[@]}"
run 'ensure_test_prereqs; ensure_model'
expect_ok
expect_call "apt-get update -qq"
for pkg in nodejs npm chromium python3 python3-venv shellcheck zip unzip; do expect_apt_installed "$pkg"; done
expect_call "rustup target add wasm32-unknown-unknown"
expect_call "rustup component add rustfmt clippy"
expect_call "npm ci --no-audit --no-fund --loglevel=error"
expect_call "npm ran in $sb/repo"
expect_call "python3 $sb/repo/scripts/model/build_model.py"
expect_call "python3 ran with COS_CACHE=$sb/cache"
for what in "Node.js and npm" "Chromium" "shellcheck" "zip and unzip" "Python 3 with venv" \
  "the Rust target wasm32-unknown-unknown" "the Rust components rustfmt clippy" "npm packages" "demo model"; do
  expect_stderr "$what"
done
updates=$(grep -c '^apt-get update' "$sb/calls") || true
[ "$updates" -eq 1 ] || problem "apt-get update ran $updates times, expected once"
verdict

# The same sandbox, now complete: a second run installs nothing.
current="a second run installs nothing"
: >"$sb/calls"
run 'ensure_test_prereqs; ensure_model'
expect_ok
expect_no_call '^(apt-get|rustup|npm|sudo) '
expect_call "python3 $sb/repo/scripts/model/build_model.py"
verdict

scenario "scripts/demo on a fresh machine installs what it needs" "${FRESH_ROOT[@]}"
run 'ensure_demo_prereqs; ensure_model'
expect_ok
for pkg in nodejs npm chromium python3-venv; do expect_apt_installed "$pkg"; done
expect_call "rustup target add wasm32-unknown-unknown"
expect_call "npm ci --no-audit --no-fund --loglevel=error"
expect_call "python3 $sb/repo/scripts/model/build_model.py"
verdict

scenario "not root: apt-get runs through sudo" apt-get dpkg-query sudo id
run FAKE_UID=1000 'ensure_chromium'
expect_ok
expect_call "sudo apt-get update -qq"
expect_call "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium"
verdict

scenario "not root and no sudo: names the packages and how to install them" apt-get dpkg-query id
run FAKE_UID=1000 'ensure_chromium'
expect_failure
expect_stderr "chromium"
expect_stderr "as root"
expect_no_call '^apt-get install'
verdict

scenario "no apt-get: names Node.js and npm" id
run 'ensure_node_modules'
expect_failure
expect_stderr "Node.js and npm"
expect_stderr "nodejs npm"
verdict

scenario "no Rust: points to rustup" id apt-get
run 'ensure_build_prereqs'
expect_failure
expect_stderr "cargo"
expect_stderr "https://rustup.rs"
verdict

scenario "Rust without rustup or the wasm32 target: names the target" id apt-get cargo rustc
run 'ensure_build_prereqs'
expect_failure
expect_stderr "wasm32-unknown-unknown"
verdict

scenario "a failing apt-get install is reported with its packages" "${FRESH_ROOT[@]}"
run FAKE_APT_FAILS=1 'ensure_shellcheck'
expect_failure
expect_stderr "apt-get install shellcheck failed"
verdict

scenario "a failing npm ci is reported" "${FRESH_ROOT[@]}" node npm
run FAKE_NPM_FAILS=1 'ensure_node_modules'
expect_failure
expect_stderr "npm ci failed"
verdict

# The safety net for what the functions do not foresee: under set -e, a
# `$(tool --version | awk ...)` of a missing tool ended scripts/demo with
# status 127 and no message (issue 10).
scenario "an unforeseen failure names the command instead of exiting silently" id
# shellcheck disable=SC2016 # expanded in the sandbox
run 'have=$(wasm-bindgen --version 2>/dev/null | awk "{print \$2}"); echo "$have"'
expect_failure
expect_stderr "wasm-bindgen --version"
verdict

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
