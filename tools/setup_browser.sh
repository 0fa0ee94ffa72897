#!/usr/bin/env bash
# Installs Debian's Chromium for the docs-site test (tests/docs), when it is missing and we may:
# as root with apt-get. Anywhere else it says how to get one and exits 0: the test then skips with
# that reason, except under CI (CI=true), where a missing browser fails the test.
set -uo pipefail
for candidate in "${CHROMIUM:-}" chromium chromium-browser google-chrome; do
  if [[ -n "$candidate" ]] && command -v "$candidate" >/dev/null 2>&1; then
    echo "chromium: $(command -v "$candidate") already installed"
    exit 0
  fi
done
if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
  log="$(cd "$(dirname "$0")/.." && pwd)/.local/tools/logs/chromium.log"
  mkdir -p "$(dirname "$log")"
  echo "chromium: installing Debian's chromium for the docs test (once; log: $log)"
  if DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 &&
     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >>"$log" 2>&1; then
    echo "chromium: $(command -v chromium) installed"
  else
    echo "chromium: install failed (see $log); the docs test will skip outside CI"
  fi
else
  echo "chromium: not found; install Chromium (or set CHROMIUM=/path/to/browser) to run the docs-site test"
fi
exit 0
