#!/usr/bin/env bash
# The project's test command (README "Run the tests"; CI runs exactly this via .ci/run).
# Formatting, lints, then every test — including the selftest that proves each case passes
# on the clean reference peers and fails on the faults it declares.
set -euo pipefail
cd "$(dirname "$0")/.."

# The JUnit schema test validates with xmllint (Debian package libxml2-utils).
if ! command -v xmllint >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing libxml2-utils (xmllint) for the JUnit schema test"
    (apt-get install -y -qq libxml2-utils >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libxml2-utils; })
  else
    echo "xmllint is missing: install it (Debian/Ubuntu: sudo apt-get install libxml2-utils) and rerun" >&2
    exit 2
  fi
fi

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
