# rill_compat.sh - shared bash helpers for the black-box compatibility tests
# (tests/compat/test_*.sh). Source it; it is not a test itself.
#
# compat_start_rilld BIN_DIR [key=value ...]
#     Starts BIN_DIR/rilld with config/server.properties on a free loopback
#     port and a fresh temp directory (data in $COMPAT_TMP/data, log in
#     $COMPAT_TMP/rilld.log), with the given extra overrides. Sets
#     COMPAT_PORT, COMPAT_BOOTSTRAP, COMPAT_PID and COMPAT_TMP. Installs an
#     EXIT trap that kills rilld and removes the directory, whatever happens,
#     and prints the tail of rilld's log when the test failed.
# compat_stop_rilld
#     Stops rilld with SIGTERM and fails unless it exits 0 within 30 s (a
#     crash, a sanitizer report or a hang on shutdown is a failure).
# compat_fail MESSAGE...
#     Prints "FAIL: MESSAGE" and exits 1 (the trap cleans up).
#
# Free ports: bash cannot bind port 0, so a candidate is a random high port
# that nothing listens on; if rilld fails to start there (taken in between),
# another is tried.

COMPAT_SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
COMPAT_PID=""
COMPAT_TMP=""
COMPAT_PORT=""
COMPAT_BOOTSTRAP=""

compat_fail() {
        echo "FAIL: $*" >&2
        exit 1
}

compat_cleanup() {
        local rc=$?
        if [ -n "$COMPAT_PID" ]; then
                kill -9 "$COMPAT_PID" 2>/dev/null || true
                wait "$COMPAT_PID" 2>/dev/null || true
                COMPAT_PID=""
        fi
        if [ "$rc" -ne 0 ] && [ -n "$COMPAT_TMP" ] && [ -f "$COMPAT_TMP/rilld.log" ]; then
                echo "---- rilld log (last 60 lines) ----" >&2
                tail -n 60 "$COMPAT_TMP/rilld.log" >&2 || true
                echo "----" >&2
        fi
        if [ -n "$COMPAT_TMP" ]; then
                rm -rf "$COMPAT_TMP"
                COMPAT_TMP=""
        fi
        exit "$rc"
}

compat_port_open() {
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

compat_start_rilld() {
        local bin=$1
        shift
        [ -x "$bin/rilld" ] || compat_fail "rilld not found at $bin/rilld (build it first)"
        COMPAT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rill-compat-XXXXXX")
        trap compat_cleanup EXIT
        trap 'exit 130' INT TERM
        mkdir -p "$COMPAT_TMP/data"
        local attempt port args deadline
        for attempt in 1 2 3 4 5; do
                port=$((20000 + RANDOM % 30000))
                if compat_port_open "$port"; then
                        continue
                fi
                args=("$COMPAT_SRC_DIR/config/server.properties"
                      --override "listeners=PLAINTEXT://127.0.0.1:$port"
                      --override "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
                      --override "log.dirs=$COMPAT_TMP/data"
                      --override "group.initial.rebalance.delay.ms=0"
                      --override "offsets.topic.num.partitions=4")
                local kv
                for kv in "$@"; do
                        args+=(--override "$kv")
                done
                "$bin/rilld" "${args[@]}" >>"$COMPAT_TMP/rilld.log" 2>&1 &
                COMPAT_PID=$!
                deadline=$((SECONDS + 30))
                while [ "$SECONDS" -lt "$deadline" ]; do
                        if ! kill -0 "$COMPAT_PID" 2>/dev/null; then
                                wait "$COMPAT_PID" 2>/dev/null || true
                                COMPAT_PID=""
                                break
                        fi
                        if compat_port_open "$port"; then
                                COMPAT_PORT=$port
                                COMPAT_BOOTSTRAP="127.0.0.1:$port"
                                return 0
                        fi
                        sleep 0.05
                done
                if [ -n "$COMPAT_PID" ]; then
                        kill -9 "$COMPAT_PID" 2>/dev/null || true
                        wait "$COMPAT_PID" 2>/dev/null || true
                        COMPAT_PID=""
                fi
        done
        compat_fail "rilld did not start (see its log below)"
}

compat_stop_rilld() {
        local pid=$COMPAT_PID rc=0 deadline
        [ -n "$pid" ] || compat_fail "rilld is not running"
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || rc=$?; COMPAT_PID=""; compat_fail "rilld died during the test (exit status $rc)"; }
        kill -TERM "$pid"
        deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
                sleep 0.05
        done
        kill -0 "$pid" 2>/dev/null && compat_fail "rilld did not stop within 30 s of SIGTERM"
        wait "$pid" 2>/dev/null || rc=$?
        COMPAT_PID=""
        [ "$rc" -eq 0 ] || compat_fail "rilld exited with status $rc on SIGTERM"
}

# compat_run_rill SECONDS ARGS...: runs $BIN/rill under `timeout` (a hang is a
# failure, not a stuck test) with stdout in $W/out, stderr in $W/err and the
# status in $RC; never fails itself. Stdin is inherited (callers redirect it).
compat_run_rill() {
        local secs=$1
        shift
        RC=0
        timeout "$secs" "$BIN/rill" "$@" >"$W/out" 2>"$W/err" || RC=$?
        return 0
}

# compat_expect_rc N DESCRIPTION: checks the status of the last
# compat_run_rill with the calling script's ok and bad.
compat_expect_rc() {
        if [ "$RC" -eq "$1" ]; then ok "$2"; else bad "$2 (status $RC, expected $1)"; fi
}
