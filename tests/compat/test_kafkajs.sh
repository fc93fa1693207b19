#!/usr/bin/env bash
# test_kafkajs.sh - black-box compatibility of rilld with KafkaJS.
#
# Usage: test_kafkajs.sh BUILD_BIN_DIR
#
# Installs the pinned KafkaJS (tests/compat/kafkajs/package.json and its
# lockfile, into tests/compat/kafkajs/node_modules, which git ignores) when it
# is not there yet, starts its own rilld (free port, temp dir) and runs
# tests/compat/kafkajs/test.js against it: admin create/list/metadata/
# describeGroups/fetchOffsets/delete, a producer with keys, headers and
# acks=-1, and a consumer group that commits and is resumed by a second
# member. The EXIT trap kills rilld and removes the temp dir.
set -euo pipefail

BIN=${1:?usage: test_kafkajs.sh BUILD_BIN_DIR}
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../common/rill_compat.sh
. "$HERE/../common/rill_compat.sh"

command -v node >/dev/null 2>&1 || compat_fail "node is not installed (scripts/install-deps.sh installs nodejs)"
command -v npm >/dev/null 2>&1 || compat_fail "npm is not installed (scripts/install-deps.sh installs npm)"

JS="$HERE/kafkajs"
want=$(sed -n 's/.*"kafkajs": *"\([^"]*\)".*/\1/p' "$JS/package.json")
have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$JS/node_modules/kafkajs/package.json" 2>/dev/null | head -n 1 || true)
if [ "$have" != "$want" ]; then
        echo "installing kafkajs@$want (have: ${have:-none})"
        (cd "$JS" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) ||
                compat_fail "npm ci in $JS failed (is the npm registry reachable?)"
fi

compat_start_rilld "$BIN"
echo "rilld at $COMPAT_BOOTSTRAP (pid $COMPAT_PID)"

cd "$JS"
KAFKAJS_NO_PARTITIONER_WARNING=1 timeout 300 node test.js "$COMPAT_BOOTSTRAP" ||
        compat_fail "the KafkaJS test failed (its output is above)"
compat_stop_rilld
echo "PASS: test_kafkajs.sh"
