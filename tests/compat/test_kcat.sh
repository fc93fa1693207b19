#!/usr/bin/env bash
# test_kcat.sh - black-box compatibility of rilld with kcat (the librdkafka CLI).
#
# Usage: test_kcat.sh BUILD_BIN_DIR
#
# Starts its own rilld (free port, temp dir, num.partitions=3 so that topics
# kcat auto-creates have 3 partitions) and checks, with the Debian kcat:
#   - `-L` lists the broker at the advertised address and the topics;
#   - `-P -K:` produces keyed lines and `-C -e -o beginning -K:` reads back
#     exactly those lines, each key's values in produced order;
#   - `-G group` (balanced consumer group) reads them all, commits, and a
#     second run of the same group reads only what was produced since;
#   - `-H` headers come back with `-f %h`;
#   - `-z gzip|snappy|lz4|zstd` round trips, for every codec this kcat's
#     librdkafka was built with (kcat -V builtin.features); a codec that is
#     built in is expected to work, so a failure there fails the test.
# Every kcat call has a timeout; the EXIT trap kills rilld and removes the
# temp dir whatever happens.
set -euo pipefail

BIN=${1:?usage: test_kcat.sh BUILD_BIN_DIR}
# shellcheck source=../common/rill_compat.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/rill_compat.sh"

command -v kcat >/dev/null 2>&1 || compat_fail "kcat is not installed (scripts/install-deps.sh installs it)"

compat_start_rilld "$BIN" num.partitions=3
B=$COMPAT_BOOTSTRAP
W=$COMPAT_TMP
echo "rilld at $B (pid $COMPAT_PID)"

kc() {
        timeout 60 kcat -b "$B" "$@"
}

# Produces stdin (key:value lines) to topic $1; extra kcat args follow.
produce() {
        local topic=$1
        shift
        if ! kc -P -t "$topic" -K: "$@" 2>"$W/produce.err"; then
                cat "$W/produce.err" >&2
                compat_fail "kcat -P -t $topic $* exited non-zero"
        fi
        if grep -qiE "error|fail" "$W/produce.err"; then
                cat "$W/produce.err" >&2
                compat_fail "kcat -P -t $topic $* reported errors"
        fi
}

# Consumes all of topic $1 from the beginning as "key:value" lines into $2.
consume_all() {
        if ! kc -C -t "$1" -e -o beginning -q -f '%k:%s\n' >"$2" 2>"$W/consume.err"; then
                cat "$W/consume.err" >&2
                compat_fail "kcat -C -t $1 -e -o beginning exited non-zero"
        fi
}

# Fails unless files $1 and $2 hold the same lines (in any order).
same_lines() {
        if ! diff <(sort "$1") <(sort "$2") >"$W/diff.out"; then
                head -n 20 "$W/diff.out" >&2
                compat_fail "$3: consumed lines differ from produced lines (< produced, > consumed)"
        fi
}

# Fails unless, in file $1 of key:value lines with values "v<N>", each key's
# N are increasing.
per_key_ordered() {
        if ! awk -F: '{ n = substr($2, 2) + 0; if (($1 in last) && n <= last[$1]) { print "key " $1 ": " n " after " last[$1]; bad = 1 } last[$1] = n } END { exit bad }' "$1" >"$W/order.out"; then
                head -n 10 "$W/order.out" >&2
                compat_fail "$2: values of a key are out of order"
        fi
}

# ---- 1. metadata ----
kc -L >"$W/meta0.txt" 2>&1 || { cat "$W/meta0.txt" >&2; compat_fail "kcat -L exited non-zero"; }
grep -q " 1 brokers:" "$W/meta0.txt" || { cat "$W/meta0.txt" >&2; compat_fail "kcat -L does not list 1 broker"; }
grep -q "broker [0-9]* at 127.0.0.1:$COMPAT_PORT" "$W/meta0.txt" ||
        { cat "$W/meta0.txt" >&2; compat_fail "kcat -L does not list the broker at 127.0.0.1:$COMPAT_PORT"; }
echo "ok: kcat -L lists the broker"

# ---- 2. keyed produce, consume from the beginning ----
: >"$W/keyed.in"
for i in $(seq 0 199); do
        echo "k$((i % 7)):v$i" >>"$W/keyed.in"
done
produce kcat-keyed <"$W/keyed.in"
kc -L -t kcat-keyed >"$W/meta1.txt" 2>&1 || compat_fail "kcat -L -t kcat-keyed exited non-zero"
grep -q 'topic "kcat-keyed" with 3 partitions' "$W/meta1.txt" ||
        { cat "$W/meta1.txt" >&2; compat_fail "kcat -L -t does not show kcat-keyed with 3 partitions"; }
kc -L >"$W/meta2.txt" 2>&1 || compat_fail "kcat -L exited non-zero"
grep -q 'topic "kcat-keyed"' "$W/meta2.txt" || compat_fail "kcat -L does not list topic kcat-keyed"
echo "ok: kcat -L lists the auto-created topic with 3 partitions"

consume_all kcat-keyed "$W/keyed.out"
[ "$(wc -l <"$W/keyed.out")" -eq 200 ] ||
        compat_fail "kcat -C read $(wc -l <"$W/keyed.out") records, want 200"
same_lines "$W/keyed.in" "$W/keyed.out" "kcat -C -o beginning"
per_key_ordered "$W/keyed.out" "kcat -C -o beginning"
# Plain -K: output (no -f) too.
kc -C -t kcat-keyed -e -o beginning -q -K: >"$W/keyed2.out" 2>/dev/null || compat_fail "kcat -C -K: exited non-zero"
same_lines "$W/keyed.in" "$W/keyed2.out" "kcat -C -K:"
# Each key in one partition.
kc -C -t kcat-keyed -e -o beginning -q -f '%k %p\n' | sort -u | awk '{ c[$1]++ } END { for (k in c) if (c[k] != 1) { print k; bad = 1 } exit bad }' >"$W/parts.out" ||
        compat_fail "keys spread over several partitions: $(cat "$W/parts.out")"
echo "ok: keyed produce and consume from the beginning"

# ---- 3. balanced consumer group ----
kc -G kcat-group -X auto.offset.reset=earliest -e -q -f '%k:%s\n' kcat-keyed >"$W/group1.out" 2>"$W/group1.err" ||
        { cat "$W/group1.err" >&2; compat_fail "kcat -G (first run) exited non-zero"; }
same_lines "$W/keyed.in" "$W/group1.out" "kcat -G (first run)"
per_key_ordered "$W/group1.out" "kcat -G (first run)"
: >"$W/keyed_more.in"
for i in $(seq 200 219); do
        echo "k$((i % 7)):v$i" >>"$W/keyed_more.in"
done
produce kcat-keyed <"$W/keyed_more.in"
kc -G kcat-group -X auto.offset.reset=earliest -e -q -f '%k:%s\n' kcat-keyed >"$W/group2.out" 2>"$W/group2.err" ||
        { cat "$W/group2.err" >&2; compat_fail "kcat -G (second run) exited non-zero"; }
same_lines "$W/keyed_more.in" "$W/group2.out" "kcat -G (second run resumes from committed offsets)"
echo "ok: balanced consumer group reads, commits and resumes"

# ---- 4. headers ----
echo "hk:hv" | produce kcat-headers -H trace=abc-123 -H n=1
kc -C -t kcat-headers -e -o beginning -q -f '%h|%k|%s\n' >"$W/headers.out" 2>/dev/null || compat_fail "kcat -C (headers) exited non-zero"
[ "$(cat "$W/headers.out")" = "trace=abc-123,n=1|hk|hv" ] ||
        compat_fail "headers: got '$(cat "$W/headers.out")', want 'trace=abc-123,n=1|hk|hv'"
echo "ok: headers"

# ---- 5. compression ----
features=$(kcat -V 2>&1 | tr ' ' '\n' | sed -n 's/^builtin.features=//p' | tr ',' ' ')
for codec in gzip snappy lz4 zstd; do
        case " $features " in
        *" $codec "*) ;;
        *)
                echo "NOT TESTED: this kcat's librdkafka is built without $codec (builtin.features: $features)"
                continue
                ;;
        esac
        : >"$W/$codec.in"
        for i in $(seq 0 299); do
                echo "c$((i % 5)):v$i compressible payload compressible payload compressible payload" >>"$W/$codec.in"
        done
        produce "kcat-$codec" -z "$codec" -X linger.ms=50 <"$W/$codec.in"
        consume_all "kcat-$codec" "$W/$codec.out"
        [ "$(wc -l <"$W/$codec.out")" -eq 300 ] ||
                compat_fail "$codec: kcat -C read $(wc -l <"$W/$codec.out") records, want 300"
        same_lines "$W/$codec.in" "$W/$codec.out" "compression $codec"
        echo "ok: compression $codec"
done

compat_stop_rilld
echo "PASS: kcat compatibility"
