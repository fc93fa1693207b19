#!/usr/bin/env bash
# Installs every Debian package Rill needs to build, test and benchmark.
# Quick when everything is already present: it checks with dpkg first and only
# runs apt-get (update first) when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  librdkafka-dev librocksdb-dev libck-dev libjemalloc-dev libcunit1-dev
  libssl-dev zlib1g-dev liblz4-dev libzstd-dev libsnappy-dev
  libjansson-dev
  kcat nodejs npm
  procps linux-perf valgrind
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # nodejs from nodesource provides npm itself.
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
