#!/usr/bin/env bash
# test_examples.sh - black-box test of the example programs (examples/*.c)
# against rilld, driven the way a user drives them: topics created with
# `rill topics`, input written with `rill console-producer`, output read with
# `rill console-consumer`.
#
# Usage: test_examples.sh BUILD_BIN_DIR
#
# Starts its own rilld (free port, temp dir; tests/common/rill_compat.sh).
# Every example gets its own topics (2 partitions, so that it runs two tasks),
# a fresh --application-id and a --state-dir under the temp dir. For each:
#   - pipe: the output is exactly the input, with the same keys, headers and
#     timestamps, and the records of one key stay in produced order;
#   - filter-map: blank lines (spaces, tabs, empty) are dropped, the others
#     are upper-cased (ASCII only; other bytes as they are) and keyed by
#     their length in bytes, a line longer than 4 KB included;
#   - dedup-processor: only the first record of each key comes out (records
#     without a key are dropped), its wall-clock report counts the
#     duplicates of each task, and after a restart with the same
#     application id the keys seen before are still dropped;
#   - wordcount: the counts of a few lines (values are int64).
# The expected outputs are computed here with awk, independently of librill.
# Each example is stopped with SIGTERM and must exit with status 0 within
# 60 s. At the end the output topics are read again after an idle timeout to
# check that nothing beyond the expected records was written.
#
# Every program runs under `timeout` and every wait polls with a deadline, so
# a hang is a failure, not a stuck test. Ends with "N passed, N failed".
set -uo pipefail

BIN=${1:?usage: test_examples.sh BUILD_BIN_DIR}
# shellcheck source=../common/rill_compat.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/rill_compat.sh"

for prog in rill wordcount pipe filter-map dedup-processor; do
        [ -x "$BIN/$prog" ] || compat_fail "$prog not found at $BIN/$prog (build it first)"
done
compat_start_rilld "$BIN" auto.create.topics.enable=false
B=$COMPAT_BOOTSTRAP
W=$COMPAT_TMP
echo "rilld at $B (pid $COMPAT_PID)"
export LC_ALL=C

PASSED=0
FAILED=0
EX_PID=""      # the example running now
EX_LOG=""      # its stdout and stderr

# The examples are stopped too (before rilld) whatever happens.
examples_cleanup() {
        local rc=$?
        if [ -n "$EX_PID" ]; then
                kill -9 "$EX_PID" 2>/dev/null || true
                wait "$EX_PID" 2>/dev/null || true
                EX_PID=""
        fi
        (exit "$rc")
        compat_cleanup
}
trap examples_cleanup EXIT

ok() {
        PASSED=$((PASSED + 1))
        echo "ok   - $*"
}

bad() {
        FAILED=$((FAILED + 1))
        echo "FAIL - $*"
        if [ -s "$W/out" ]; then
                echo "  stdout of the last rill command:"
                cut -c1-200 "$W/out" | sed 's/^/    /' | head -n 30
        fi
        if [ -s "$W/err" ]; then
                echo "  stderr of the last rill command:"
                sed 's/^/    /' "$W/err" | head -n 30
        fi
        if [ -n "$EX_LOG" ] && [ -s "$EX_LOG" ]; then
                echo "  log of the example ($EX_LOG, last 30 lines):"
                tail -n 30 "$EX_LOG" | sed 's/^/    /'
        fi
}

# rill ARGS...: rill with a 90 s guard (compat_run_rill); expect_rc N DESC
# checks its status.
rill() { compat_run_rill 90 "$@"; }
expect_rc() { compat_expect_rc "$@"; }

# same FILE_EXPECTED FILE_ACTUAL DESCRIPTION: the two files are equal.
same() {
        if diff "$1" "$2" >"$W/diff"; then
                ok "$3"
        else
                bad "$3"
                echo "  diff expected actual:"
                cut -c1-200 "$W/diff" | sed 's/^/    /' | head -n 30
        fi
}

create_topic() {
        rill topics --bootstrap-server "$B" --create --topic "$1" --partitions "$2" \
                --replication-factor 1
        expect_rc 0 "create topic $1 ($2 partitions)"
}

# start_example NAME APP_ID [options]: starts BIN/NAME in the background
# with a fresh application id and state directory and a short commit
# interval. Sets EX_PID and EX_LOG.
start_example() {
        local name=$1 app=$2
        shift 2
        EX_LOG="$W/$app.log"
        timeout 600 "$BIN/$name" --bootstrap-server "$B" --application-id "$app" \
                --state-dir "$W/state-$app" --commit-interval-ms 100 "$@" \
                >>"$EX_LOG" 2>&1 &
        EX_PID=$!
        echo "started $name as $app (pid $EX_PID)"
}

# stop_example NAME: SIGTERM, then the example must exit 0 within 60 s.
stop_example() {
        local name=$1 rc=0 deadline
        if ! kill -0 "$EX_PID" 2>/dev/null; then
                wait "$EX_PID" 2>/dev/null || rc=$?
                EX_PID=""
                bad "$name was still running when asked to stop (it exited with status $rc)"
                return
        fi
        kill -TERM "$EX_PID"
        deadline=$((SECONDS + 60))
        while kill -0 "$EX_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
                sleep 0.05
        done
        if kill -0 "$EX_PID" 2>/dev/null; then
                bad "$name did not exit within 60 s of SIGTERM"
                kill -9 "$EX_PID" 2>/dev/null || true
                wait "$EX_PID" 2>/dev/null || true
                EX_PID=""
                return
        fi
        wait "$EX_PID" 2>/dev/null || rc=$?
        EX_PID=""
        if [ "$rc" -eq 0 ]; then ok "$name exits 0 on SIGTERM"
        else bad "$name exited with status $rc on SIGTERM"; fi
}

# read_output TOPIC N [--property ...]: waits (60 s of idleness at most)
# for the first N records of TOPIC, from the beginning, into $W/out.
read_output() {
        local topic=$1 n=$2
        shift 2
        rill console-consumer --bootstrap-server "$B" --topic "$topic" --from-beginning \
                --max-messages "$n" --timeout-ms 60000 "$@"
        if [ "$RC" -ne 0 ] || [ "$(wc -l <"$W/out")" -ne "$n" ]; then
                bad "read $n records from $topic (status $RC, got $(wc -l <"$W/out"))"
                return 1
        fi
        return 0
}

# Final checks, run together at the end: "TOPIC EXPECTED_FILE [--property ...]".
FINAL=()

# ---------------------------------------------------------------------------
echo "# usage"
RC=0
timeout 30 "$BIN/pipe" >"$W/out" 2>"$W/err" || RC=$?
if [ "$RC" -eq 2 ] && grep -q "^usage: .*pipe --bootstrap-server" "$W/err"; then
        ok "pipe without --bootstrap-server prints its usage, status 2"
else
        bad "pipe without --bootstrap-server (status $RC)"
fi
for prog in filter-map dedup-processor wordcount; do
        RC=0
        timeout 30 "$BIN/$prog" --bogus >"$W/out" 2>"$W/err" || RC=$?
        if [ "$RC" -eq 2 ] && grep -q "^usage: .*$prog " "$W/err"; then
                ok "$prog with an unknown option prints its usage, status 2"
        else
                bad "$prog --bogus (status $RC)"
        fi
done

# ---------------------------------------------------------------------------
echo "# pipe"
create_topic ex-pipe-in 2
create_topic ex-pipe-out 2
# Headers, then TAB, then key,value (a value may hold the separator).
: >"$W/pipe-input"
for i in $(seq 1 30); do
        printf 'n:%d,src:test\tk%d,line %d, with a comma\n' "$i" $((i % 4)) "$i" >>"$W/pipe-input"
done
NPIPE=30
rill console-producer --bootstrap-server "$B" --topic ex-pipe-in --property parse.headers=true \
        --property parse.key=true --property key.separator=, <"$W/pipe-input"
expect_rc 0 "produce $NPIPE records with keys and headers to ex-pipe-in"
# What console-consumer prints with print.headers and print.key: fields
# separated by TAB.
awk -F'\t' '{ i = index($2, ","); print $1 "\t" substr($2, 1, i - 1) "\t" substr($2, i + 1) }' \
        "$W/pipe-input" >"$W/pipe-expected"

start_example pipe ex-pipe --input-topic ex-pipe-in --output-topic ex-pipe-out
PIPE_PROPS=(--property print.timestamp=true --property print.headers=true
            --property print.key=true)
if read_output ex-pipe-out "$NPIPE" "${PIPE_PROPS[@]}"; then
        cp "$W/out" "$W/pipe-out"
        cut -f2- "$W/pipe-out" | sort >"$W/pipe-got"
        sort "$W/pipe-expected" >"$W/pipe-want"
        same "$W/pipe-want" "$W/pipe-got" "pipe copies every record with its key and headers"
        # Stable sort by key: the records of each key in output order.
        cut -f3- "$W/pipe-out" | sort -s -t, -k1,1 >"$W/pipe-got"
        cut -f2- "$W/pipe-expected" | sort -s -t, -k1,1 >"$W/pipe-want"
        same "$W/pipe-want" "$W/pipe-got" "pipe keeps the records of each key in order"
        rill console-consumer --bootstrap-server "$B" --topic ex-pipe-in --from-beginning \
                --max-messages "$NPIPE" --timeout-ms 60000 "${PIPE_PROPS[@]}"
        sort "$W/out" >"$W/pipe-want"
        sort "$W/pipe-out" >"$W/pipe-got"
        same "$W/pipe-want" "$W/pipe-got" "pipe keeps the timestamps"
fi
stop_example pipe
FINAL+=("ex-pipe-out $W/pipe-expected --property print.headers=true --property print.key=true")

# ---------------------------------------------------------------------------
echo "# filter-map"
create_topic ex-fm-in 2
create_topic ex-fm-out 2
{
        echo "hello world"
        echo ""
        echo "   "
        printf ' \t \n'
        echo "Mixed Case 123, with punctuation!"
        printf 'caf\303\251 \303\274ber\n'          # UTF-8: only the ASCII letters change
        echo "a"
        head -c 5000 /dev/zero | tr '\0' x; echo   # longer than 4 KB
        echo "  leading and trailing spaces  "
        echo "the last line"
} >"$W/fm-input"
rill console-producer --bootstrap-server "$B" --topic ex-fm-in <"$W/fm-input"
expect_rc 0 "produce $(wc -l <"$W/fm-input") lines (3 of them blank) to ex-fm-in"
awk '/^[ \t]*$/ { next } { print length($0) "\t" toupper($0) }' "$W/fm-input" \
        | sort >"$W/fm-expected"
NFM=$(wc -l <"$W/fm-expected")

start_example filter-map ex-filter-map --input-topic ex-fm-in --output-topic ex-fm-out
if read_output ex-fm-out "$NFM" --property print.key=true; then
        sort "$W/out" >"$W/fm-got"
        same "$W/fm-expected" "$W/fm-got" \
                "filter-map drops the $(( $(wc -l <"$W/fm-input") - NFM )) blank lines, upper-cases the others, keys them by length"
fi
stop_example filter-map
FINAL+=("ex-fm-out $W/fm-expected --property print.key=true")

# ---------------------------------------------------------------------------
echo "# dedup-processor"
create_topic ex-dd-in 2
create_topic ex-dd-out 2
create_topic streams-dedup-report 1
# 40 keyed records over 11 keys, and two records without a key
# (ignore.error: a line without the separator is a value without key).
: >"$W/dd-input"
for i in $(seq 1 40); do
        echo "k$(( (i * 7) % 11 )),value $i" >>"$W/dd-input"
        [ "$i" -eq 5 ] || [ "$i" -eq 30 ] && echo "no key here $i" >>"$W/dd-input"
done
echo "k-last,value 41" >>"$W/dd-input"     # a first occurrence ends the input
rill console-producer --bootstrap-server "$B" --topic ex-dd-in --property parse.key=true \
        --property key.separator=, --property ignore.error=true <"$W/dd-input"
expect_rc 0 "produce 41 keyed records and 2 without key to ex-dd-in"
awk -F, 'index($0, ",") && !seen[$1]++ { print $1 "\t" substr($0, length($1) + 2) }' \
        "$W/dd-input" | sort >"$W/dd-expected"
NDD=$(wc -l <"$W/dd-expected")
DUPS=$(( $(grep -c , "$W/dd-input") - NDD ))

start_example dedup-processor ex-dedup --input-topic ex-dd-in --output-topic ex-dd-out
# Its reports come every 10 s of wall-clock time: a consumer collects them
# in the background while the output is checked.
timeout 120 "$BIN/rill" console-consumer --bootstrap-server "$B" --topic streams-dedup-report \
        --from-beginning --timeout-ms 90000 --property print.key=true \
        >"$W/dd-reports" 2>"$W/dd-reports.err" &
REPORTS_PID=$!
if read_output ex-dd-out "$NDD" --property print.key=true; then
        sort "$W/out" >"$W/dd-got"
        same "$W/dd-expected" "$W/dd-got" \
                "dedup-processor forwards only the first record of each of the $NDD keys"
fi
# The latest report of each task (0_0 and 0_1) must add up to the number of
# duplicates; a report from before the last record may be lower.
sum_reports() {
        awk -F'\t' '$1 == "report" && split($2, a, ": ") == 2 {
                        sub(/ duplicates$/, "", a[2]); last[a[1]] = a[2] }
                END { n = 0; s = 0; for (t in last) { n++; s += last[t] }; print n, s }' \
                "$W/dd-reports"
}
deadline=$((SECONDS + 60))
while [ "$(sum_reports)" != "2 $DUPS" ] && [ "$SECONDS" -lt "$deadline" ] &&
      kill -0 "$REPORTS_PID" 2>/dev/null; do
        sleep 0.2
done
if [ "$(sum_reports)" = "2 $DUPS" ]; then
        ok "the reports of the two tasks count the $DUPS duplicates"
else
        bad "reports (tasks, duplicates) = $(sum_reports), expected 2 $DUPS"
        sed 's/^/    /' "$W/dd-reports" | tail -n 10
fi
if [ ! -s "$W/dd-reports" ] || grep -vqE '^report	0_[01]: [0-9]+ duplicates$' "$W/dd-reports"; then
        bad "a report line has an unexpected format"
        sed 's/^/    /' "$W/dd-reports" | head -n 10
else
        ok "every report line is 'report<TAB><task>: <n> duplicates'"
fi
kill "$REPORTS_PID" 2>/dev/null || true
wait "$REPORTS_PID" 2>/dev/null || true
stop_example dedup-processor

# Restart with the same application id and state: the keys already seen
# stay dropped, new keys come out once.
: >"$W/dd-input2"
for i in $(seq 1 12); do
        echo "k$((i % 11)),again $i" >>"$W/dd-input2"
        echo "new$((i % 3)),fresh $i" >>"$W/dd-input2"
done
rill console-producer --bootstrap-server "$B" --topic ex-dd-in --property parse.key=true \
        --property key.separator=, <"$W/dd-input2"
expect_rc 0 "produce 24 more keyed records to ex-dd-in"
cat "$W/dd-input" "$W/dd-input2" \
        | awk -F, 'index($0, ",") && !seen[$1]++ { print $1 "\t" substr($0, length($1) + 2) }' \
        | sort >"$W/dd-expected"
NDD=$(wc -l <"$W/dd-expected")
start_example dedup-processor ex-dedup --input-topic ex-dd-in --output-topic ex-dd-out
if read_output ex-dd-out "$NDD" --property print.key=true; then
        sort "$W/out" >"$W/dd-got"
        same "$W/dd-expected" "$W/dd-got" \
                "after a restart only the 3 new keys come out (keys seen before stay dropped)"
fi
stop_example dedup-processor
FINAL+=("ex-dd-out $W/dd-expected --property print.key=true")

# ---------------------------------------------------------------------------
echo "# wordcount"
create_topic ex-wc-in 2
create_topic ex-wc-out 2
printf 'All streams lead to Kafka\nhello kafka streams\njoin kafka summit\n' >"$W/wc-input"
rill console-producer --bootstrap-server "$B" --topic ex-wc-in <"$W/wc-input"
expect_rc 0 "produce 3 lines to ex-wc-in"
# Every update is written: the n-th occurrence of a word gives "word n".
tr 'A-Z' 'a-z' <"$W/wc-input" | tr -cs 'a-z0-9' '\n' | awk 'NF { print $1 "\t" ++n[$1] }' \
        | sort >"$W/wc-expected"
NWC=$(wc -l <"$W/wc-expected")
start_example wordcount ex-wordcount --input-topic ex-wc-in --output-topic ex-wc-out \
        --config statestore.cache.max.bytes=0
WC_PROPS=(--property print.key=true
          --property value.deserializer=org.apache.kafka.common.serialization.LongDeserializer)
if read_output ex-wc-out "$NWC" "${WC_PROPS[@]}"; then
        sort "$W/out" >"$W/wc-got"
        same "$W/wc-expected" "$W/wc-got" "wordcount writes every count update of the 3 lines"
fi
stop_example wordcount
FINAL+=("ex-wc-out $W/wc-expected ${WC_PROPS[*]}")

# ---------------------------------------------------------------------------
echo "# nothing more was written"
# Each output topic is read again until 5 s pass without a record (all of
# them at once): exactly the expected records, no more.
EX_LOG=""
pids=()
for i in "${!FINAL[@]}"; do
        read -r -a f <<<"${FINAL[$i]}"
        timeout 90 "$BIN/rill" console-consumer --bootstrap-server "$B" --topic "${f[0]}" \
                --from-beginning --timeout-ms 5000 "${f[@]:2}" \
                >"$W/final-$i" 2>"$W/final-$i.err" &
        pids+=($!)
done
for i in "${!FINAL[@]}"; do
        read -r -a f <<<"${FINAL[$i]}"
        rc=0
        wait "${pids[$i]}" || rc=$?
        sort "$W/final-$i" >"$W/final-$i.sorted"
        sort "${f[1]}" >"$W/final-$i.want"
        if [ "$rc" -ne 0 ]; then
                bad "reading ${f[0]} again failed (status $rc)"
                sed 's/^/    /' "$W/final-$i.err" | head -n 10
        else
                same "$W/final-$i.want" "$W/final-$i.sorted" \
                        "${f[0]} holds exactly the $(wc -l <"${f[1]}") expected records"
        fi
done

compat_stop_rilld
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
