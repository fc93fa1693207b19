#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine:
#   1. installs the Debian packages (scripts/install-deps.sh),
#   2. builds with -Werror and runs every ctest suite (unit, integration, compat),
#   3. rebuilds with AddressSanitizer + UndefinedBehaviorSanitizer and runs them again.
# Tests start every broker they need themselves. Long soak tests are off unless
# RILL_SOAK=1. Set RILL_TEST_SKIP_ASAN=1 to run only the plain build (local use).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

JOBS=${JOBS:-$(nproc)}
SOAK=${RILL_SOAK:-0}
[ "$SOAK" = 1 ] && SOAK_OPT=ON || SOAK_OPT=OFF

run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DRILL_WERROR=ON -DRILL_SOAK=$SOAK_OPT "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
  (cd "$dir" && ctest --output-on-failure -j"${CTEST_JOBS:-2}" --timeout 900)
}

echo "== build + tests (RelWithDebInfo, -Werror) =="
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${RILL_TEST_SKIP_ASAN:-0}" != 1 ]; then
  echo "== build + tests (ASan + UBSan) =="
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DRILL_SANITIZE=ON -DRILL_BUILD_BENCHMARKS=OFF
fi
