#!/usr/bin/env bash
# Installs what the production-image test (tests/infra/test_dbt_image.py) builds and runs the dbt image with:
# Debian's podman and runc, and mmdebstrap (a stand-in base image where no registry can be reached). As root
# with apt-get, once; anywhere else it says what to install and exits 0: the test then skips with that reason,
# except under CI (CI=true), where it fails.
set -uo pipefail
missing=()
for tool in podman runc mmdebstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "podman: $(podman --version | awk '{print $3}') with runc and mmdebstrap already installed"
  exit 0
fi
if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
  log="$(cd "$(dirname "$0")/.." && pwd)/.local/tools/logs/podman.log"
  mkdir -p "$(dirname "$log")"
  echo "podman: installing Debian's ${missing[*]} for the image test (once; log: $log)"
  if DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 &&
     DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    echo "podman: $(podman --version | awk '{print $3}') installed"
  else
    echo "podman: install failed (see $log); the image test will skip outside CI"
  fi
else
  echo "podman: ${missing[*]} not found; install them (Debian/Ubuntu: apt-get install podman runc mmdebstrap) to run the image test"
fi
exit 0
