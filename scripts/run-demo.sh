#!/usr/bin/env bash
# run-demo.sh - the README's first command: from a fresh checkout to records
# flowing through the broker, with every step shown.
#
#   1. installs the Debian packages (scripts/install-deps.sh),
#   2. builds everything (cmake -S . -B build && cmake --build build),
#   3. starts build/bin/rilld with config/server.properties on a free port
#      and a temporary data directory, and waits until it accepts connections,
#   4. creates the topic demo-input (3 partitions) with `rill topics`,
#   5. produces keyed sample lines with `rill console-producer`,
#   6. reads them back with `rill console-consumer` in the group demo-reader,
#   7. shows `rill topics --describe` and `rill groups --describe`,
#   8. runs the word-count topology (build/bin/wordcount) on sample text and
#      checks its counts against an independent count,
#   9. stops rilld with SIGTERM and checks that it exited cleanly (status 0).
#
# Every command is printed before it runs, as you would type it (with `rill`
# for build/bin/rill). The script stops at the first failing step with a
# message and a non-zero status; whatever happens, the EXIT trap stops rilld
# and removes the temporary directory.
#
# Environment: JOBS (parallel build jobs, default: number of CPUs),
# RILL_BUILD_DIR (build directory, default build), RILL_DEMO_KEEP=1 keeps the
# temporary directory (rilld's data and log).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${RILL_BUILD_DIR:-build}
BIN="$ROOT/$BUILD/bin"
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

RILLD_PID=""
WC_PID=""
TMP=""
STEP=0

step() {
        STEP=$((STEP + 1))
        printf '\n\033[1m==> Step %d: %s\033[0m\n' "$STEP" "$*"
}

die() {
        printf '\nrun-demo: FAILED at step %d: %s\n' "$STEP" "$*" >&2
        exit 1
}

# Prints a command the way a user would type it (on stderr, so that a
# redirection of the command's output does not capture it).
print_cmd() {
        local shown=("$@")
        shown[0]=${shown[0]#"$BIN/"}
        {
                printf '$'
                printf ' %q' "${shown[@]}"
                printf '\n'
        } >&2
}

# Prints a command, then runs it.
show() {
        print_cmd "$@"
        "$@"
}

cleanup() {
        local rc=$?
        if [ -n "$WC_PID" ] && kill -0 "$WC_PID" 2>/dev/null; then
                kill -TERM "$WC_PID" 2>/dev/null || true
                wait "$WC_PID" 2>/dev/null || true
        fi
        if [ -n "$RILLD_PID" ] && kill -0 "$RILLD_PID" 2>/dev/null; then
                kill -TERM "$RILLD_PID" 2>/dev/null || true
                local deadline=$((SECONDS + 10))
                while kill -0 "$RILLD_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
                        sleep 0.1
                done
                kill -KILL "$RILLD_PID" 2>/dev/null || true
                wait "$RILLD_PID" 2>/dev/null || true
        fi
        if [ "$rc" -ne 0 ] && [ -n "$TMP" ] && [ -f "$TMP/rilld.log" ]; then
                echo "---- rilld log (last 40 lines) ----" >&2
                tail -n 40 "$TMP/rilld.log" >&2 || true
        fi
        if [ -n "$TMP" ]; then
                if [ "${RILL_DEMO_KEEP:-0}" = 1 ]; then
                        echo "run-demo: kept $TMP"
                else
                        rm -rf "$TMP"
                fi
        fi
        exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() {
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------------
step "Install dependencies"
show scripts/install-deps.sh || die "scripts/install-deps.sh failed"

# ---------------------------------------------------------------------------
step "Build"
show cmake -S . -B "$BUILD" || die "cmake configure failed"
show cmake --build "$BUILD" -j"$JOBS" || die "build failed"
[ -x "$BIN/rilld" ] || die "$BUILD/bin/rilld was not built"
[ -x "$BIN/rill" ] || die "$BUILD/bin/rill was not built"

# ---------------------------------------------------------------------------
step "Start the broker (rilld) on a free port with a temporary data directory"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rill-demo-XXXXXX")
PORT=""
for attempt in 1 2 3 4 5; do
        candidate=$((20000 + RANDOM % 30000))
        port_open "$candidate" && continue
        rilld_cmd=("$BIN/rilld" config/server.properties
                --override "listeners=PLAINTEXT://127.0.0.1:$candidate"
                --override "advertised.listeners=PLAINTEXT://127.0.0.1:$candidate"
                --override "log.dirs=$TMP/data")
        print_cmd "${rilld_cmd[@]}"
        "${rilld_cmd[@]}" >>"$TMP/rilld.log" 2>&1 &
        RILLD_PID=$!
        deadline=$((SECONDS + 30))
        while [ "$SECONDS" -lt "$deadline" ]; do
                if ! kill -0 "$RILLD_PID" 2>/dev/null; then
                        wait "$RILLD_PID" 2>/dev/null || true
                        RILLD_PID=""
                        break
                fi
                if port_open "$candidate"; then
                        PORT=$candidate
                        break
                fi
                sleep 0.1
        done
        [ -n "$PORT" ] && break
        if [ -n "$RILLD_PID" ]; then
                die "rilld did not accept connections within 30 s"
        fi
        echo "rilld exited at start-up (port $candidate taken?); trying another port"
done
[ -n "$PORT" ] || die "rilld did not start (see its log below)"
B="127.0.0.1:$PORT"
echo "rilld is up: pid $RILLD_PID, bootstrap server $B, data in $TMP/data"

# ---------------------------------------------------------------------------
step "Create the topic demo-input with 3 partitions"
show "$BIN/rill" topics --bootstrap-server "$B" --create --topic demo-input \
        --partitions 3 --replication-factor 1 || die "rill topics --create failed"
show "$BIN/rill" topics --bootstrap-server "$B" --list || die "rill topics --list failed"

# ---------------------------------------------------------------------------
step "Produce keyed lines (key,value) with rill console-producer"
cat >"$TMP/sample.txt" <<'EOF'
alice,the quick brown fox jumps over the lazy dog
bob,a stream is an unbounded sequence of records
carol,the broker stores records in partitions
alice,the dog sleeps
bob,records with the same key go to the same partition
carol,offsets number the records of a partition
EOF
NSAMPLE=$(wc -l <"$TMP/sample.txt")
cat "$TMP/sample.txt"
show "$BIN/rill" console-producer --bootstrap-server "$B" --topic demo-input \
        --property parse.key=true --property key.separator=, <"$TMP/sample.txt" \
        || die "rill console-producer failed"

# ---------------------------------------------------------------------------
step "Consume them back from the beginning (group demo-reader)"
show "$BIN/rill" console-consumer --bootstrap-server "$B" --topic demo-input \
        --from-beginning --group demo-reader --max-messages "$NSAMPLE" --timeout-ms 30000 \
        --property print.key=true --property key.separator=, \
        --property print.partition=true >"$TMP/consumed.txt" \
        || die "rill console-consumer failed"
cat "$TMP/consumed.txt"
# print.partition puts "Partition:N," first; compare the key,value part.
cut -d, -f2- "$TMP/consumed.txt" | sort >"$TMP/consumed.sorted"
sort "$TMP/sample.txt" >"$TMP/sample.sorted"
if ! diff -u "$TMP/sample.sorted" "$TMP/consumed.sorted"; then
        die "the records read back differ from the lines produced"
fi
echo "OK: all $NSAMPLE records came back (each key's records in one partition, in order)"

# ---------------------------------------------------------------------------
step "Describe the topic and the consumer group"
show "$BIN/rill" topics --bootstrap-server "$B" --describe --topic demo-input \
        || die "rill topics --describe failed"
show "$BIN/rill" groups --bootstrap-server "$B" --describe --group demo-reader \
        || die "rill groups --describe failed"

# ---------------------------------------------------------------------------
# Streams: Kafka's canonical word count, as a Rill application.
# ---------------------------------------------------------------------------
step "Create the word-count topics and start the wordcount application"
show "$BIN/rill" topics --bootstrap-server "$B" --create --topic streams-plaintext-input \
        --partitions 2 --replication-factor 1 || die "rill topics --create failed"
show "$BIN/rill" topics --bootstrap-server "$B" --create --topic streams-wordcount-output \
        --partitions 2 --replication-factor 1 || die "rill topics --create failed"
[ -x "$BIN/wordcount" ] || die "$BUILD/bin/wordcount was not built"
wc_cmd=("$BIN/wordcount" --bootstrap-server "$B" --application-id demo-wordcount
        --state-dir "$TMP/state" --commit-interval-ms 500)
print_cmd "${wc_cmd[@]}"
"${wc_cmd[@]}" >>"$TMP/wordcount.log" 2>&1 &
WC_PID=$!
echo "wordcount is running: pid $WC_PID (log in $TMP/wordcount.log)"

# ---------------------------------------------------------------------------
step "Produce text lines to streams-plaintext-input"
cat >"$TMP/text.txt" <<'EOF'
all streams lead to Kafka
hello kafka streams
join kafka summit
Rill streams records through the broker
EOF
cat "$TMP/text.txt"
show "$BIN/rill" console-producer --bootstrap-server "$B" --topic streams-plaintext-input \
        <"$TMP/text.txt" || die "rill console-producer failed"

# ---------------------------------------------------------------------------
step "Read the counts from streams-wordcount-output (key: word, value: int64)"
# The expected counts, computed independently: lower-case, split on
# non-alphanumerics.
tr 'A-Z' 'a-z' <"$TMP/text.txt" | tr -cs 'a-z0-9' '\n' | sed '/^$/d' | sort | uniq -c |
        awk '{print $2 "\t" $1}' | sort >"$TMP/expected.txt"
consume_counts=("$BIN/rill" console-consumer --bootstrap-server "$B"
        --topic streams-wordcount-output --from-beginning --timeout-ms 3000
        --property print.key=true
        --property value.deserializer=org.apache.kafka.common.serialization.LongDeserializer)
print_cmd "${consume_counts[@]}"
deadline=$((SECONDS + 60))
while :; do
        "${consume_counts[@]}" >"$TMP/counts.txt" 2>/dev/null || true
        # Every update is a record; the last one per word is its current count.
        awk -F'\t' '{last[$1] = $2} END {for (w in last) print w "\t" last[w]}' \
                "$TMP/counts.txt" | sort >"$TMP/latest.txt"
        if cmp -s "$TMP/expected.txt" "$TMP/latest.txt"; then
                break
        fi
        kill -0 "$WC_PID" 2>/dev/null || die "wordcount exited (see $TMP/wordcount.log)"
        if [ "$SECONDS" -ge "$deadline" ]; then
                diff -u "$TMP/expected.txt" "$TMP/latest.txt" || true
                die "the word counts did not match within 60 s"
        fi
done
cat "$TMP/counts.txt"
echo "OK: the latest count of every word equals an independent count of the input"

# ---------------------------------------------------------------------------
step "Stop wordcount with SIGTERM (it commits and closes cleanly)"
echo "\$ kill -TERM $WC_PID"
kill -TERM "$WC_PID"
status=0
wait "$WC_PID" || status=$?
WC_PID=""
[ "$status" -eq 0 ] || die "wordcount exited with status $status (see $TMP/wordcount.log)"
echo "wordcount exited with status 0"

# ---------------------------------------------------------------------------
step "Stop the broker with SIGTERM and check that it exits cleanly"
echo "\$ kill -TERM $RILLD_PID"
kill -TERM "$RILLD_PID"
deadline=$((SECONDS + 30))
while kill -0 "$RILLD_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.1
done
if kill -0 "$RILLD_PID" 2>/dev/null; then
        die "rilld did not exit within 30 s of SIGTERM"
fi
status=0
wait "$RILLD_PID" || status=$?
RILLD_PID=""
[ "$status" -eq 0 ] || die "rilld exited with status $status"
echo "rilld exited with status 0"

printf '\n\033[1mrun-demo: all steps passed.\033[0m\n'
