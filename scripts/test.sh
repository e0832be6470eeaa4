#!/usr/bin/env bash
# The project's test command (README "Run the tests"; CI runs exactly this via .ci/run).
# Formatting, lints, then every test — including the selftest that proves each case passes
# on the clean reference peers and fails on the faults it declares.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tools the tests use as independent oracles, installed from Debian's packages when missing.
need() { # command package why
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $2 ($1) for $3"
    (apt-get install -y -qq "$2" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2"; })
  else
    echo "$1 is missing: install it (Debian/Ubuntu: sudo apt-get install $2) and rerun" >&2
    exit 2
  fi
}
# The JUnit schema test validates with xmllint.
need xmllint libxml2-utils "the JUnit schema test"
# The SyncML DM 1.2 WBXML codec is checked against libwbxml (tests/wbxml_oracle.rs).
need xml2wbxml libwbxml2-utils "the WBXML oracle test"
need wbxml2xml libwbxml2-utils "the WBXML oracle test"

# The HTML report test (tests/html_report.rs) opens report.html in headless Chromium (Debian
# package chromium). DMCTS_SKIP_BROWSER=1 skips that test explicitly instead.
if [ "${DMCTS_SKIP_BROWSER:-}" != "1" ] && [ ! -x /usr/bin/chromium ] && [ -z "${DMCTS_CHROMIUM:-}" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the HTML report test"
    (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; })
  else
    echo "chromium is missing: install it (Debian/Ubuntu: sudo apt-get install chromium), set DMCTS_CHROMIUM to a Chromium binary, or set DMCTS_SKIP_BROWSER=1 to skip the HTML report test; then rerun" >&2
    exit 2
  fi
fi

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
