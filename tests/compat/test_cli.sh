#!/usr/bin/env bash
# test_cli.sh - black-box test of the `rill` command-line tool against rilld.
#
# Usage: test_cli.sh BUILD_BIN_DIR
#
# Starts its own rilld (free port, temp dir; tests/common/rill_compat.sh) and
# runs every sub-command the way a user does, checking outputs and exit
# statuses:
#   - help, version, unknown command/option, missing options: status and a
#     one-line message;
#   - an unreachable bootstrap server fails with a message, quickly;
#   - topics: create (explicit and default partition counts, --config,
#     --if-not-exists, invalid name), list, describe (partition count, one
#     line per partition, non-default configs), alter (increase; decrease
#     refused), delete (gone from the list; --if-exists);
#   - console-producer: keyed lines (parse.key, key.separator), a line
#     without separator is refused with status 1, a record the broker
#     refuses is reported with status 1, --command-config;
#   - configs: describe, alter --add-config / --delete-config;
#   - console-consumer: exactly the produced records with keys, timestamps,
#     --max-messages, --timeout-ms, --partition/--offset, "Processed a total
#     of N messages";
#   - groups: a --group consume commits, --describe shows CURRENT-OFFSET =
#     LOG-END-OFFSET and LAG 0 per partition, lag appears after more
#     records, a second run resumes, --members, --state, --reset-offsets,
#     --delete;
#   - Kafka script names: a symlink kafka-topics.sh -> rill runs `topics`.
# Every rill call runs under `timeout`, so a hang is a failure, not a stuck
# test. Ends with "N passed, N failed".
set -uo pipefail

BIN=${1:?usage: test_cli.sh BUILD_BIN_DIR}
# shellcheck source=../common/rill_compat.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/rill_compat.sh"

[ -x "$BIN/rill" ] || compat_fail "rill not found at $BIN/rill (build it first)"
compat_start_rilld "$BIN" auto.create.topics.enable=false
B=$COMPAT_BOOTSTRAP
W=$COMPAT_TMP
echo "rilld at $B (pid $COMPAT_PID)"

PASSED=0
FAILED=0

ok() {
        PASSED=$((PASSED + 1))
        echo "ok   - $*"
}

bad() {
        FAILED=$((FAILED + 1))
        echo "FAIL - $*"
        if [ -s "$W/out" ]; then
                echo "  stdout:"
                sed 's/^/    /' "$W/out" | head -n 30
        fi
        if [ -s "$W/err" ]; then
                echo "  stderr:"
                sed 's/^/    /' "$W/err" | head -n 30
        fi
}

# rill ARGS...: rill with a 60 s guard (compat_run_rill); expect_rc N DESC
# checks its status.
rill() { compat_run_rill 60 "$@"; }
expect_rc() { compat_expect_rc "$@"; }

# expect_fail_msg PATTERN DESCRIPTION: status 1 and PATTERN on stderr, and
# stderr is one line.
expect_fail_msg() {
        if [ "$RC" -eq 1 ] && grep -qE -- "$1" "$W/err" && [ "$(wc -l <"$W/err")" -le 2 ]; then
                ok "$2"
        else
                bad "$2 (status $RC; expected 1 and /$1/ on stderr)"
        fi
}

out_has() {
        if grep -qE -- "$1" "$W/out"; then ok "$2"; else bad "$2 (no /$1/ in output)"; fi
}

out_lacks() {
        if ! grep -qE -- "$1" "$W/out"; then ok "$2"; else bad "$2 (unexpected /$1/ in output)"; fi
}

# ---------------------------------------------------------------------------
echo "# usage and errors"
rill --help
expect_rc 0 "rill --help exits 0"
out_has "console-consumer" "rill --help lists the commands"
rill --version
expect_rc 0 "rill --version exits 0"
out_has "^rill [0-9]+\.[0-9]+\.[0-9]+" "rill --version prints the version"
rill topics --help
expect_rc 0 "rill topics --help exits 0"
out_has "replication-factor R" "rill topics --help documents --replication-factor"
for cmd in console-producer console-consumer groups configs; do
        rill "$cmd" --help
        expect_rc 0 "rill $cmd --help exits 0"
done
rill
expect_rc 1 "rill without a command exits 1"
rill frobnicate
expect_fail_msg "unknown command 'frobnicate'" "unknown command is reported"
rill topics --bootstrap-server "$B" --list --bogus
expect_fail_msg "unknown option '--bogus'" "unknown option is reported"
rill topics --bootstrap-server "$B" --create
expect_fail_msg "missing required option --topic" "--create without --topic is reported"
rill topics --list
expect_fail_msg "missing required option --bootstrap-server" "missing --bootstrap-server is reported"
rill topics --bootstrap-server "$B" --list --describe
expect_fail_msg "exactly one of" "two actions are refused"
rill topics --bootstrap-server "$B" --create --topic x --partitions zero
expect_fail_msg "invalid value 'zero' for --partitions" "a non-numeric --partitions is refused"
rill console-consumer --bootstrap-server "$B"
expect_fail_msg "exactly one of --topic or --include" "console-consumer without --topic is reported"
rill console-producer --bootstrap-server "$B" </dev/null
expect_fail_msg "missing required option --topic" "console-producer without --topic is reported"

# A port nobody listens on: refused at once, reported on one line.
closed=$((20000 + RANDOM % 30000))
while compat_port_open "$closed"; do closed=$((20000 + RANDOM % 30000)); done
start=$SECONDS
rill topics --bootstrap-server "127.0.0.1:$closed" --list --timeout 5000
expect_fail_msg "cannot connect to 127.0.0.1:$closed|no answer from 127.0.0.1:$closed" \
        "an unreachable broker is reported"
if [ $((SECONDS - start)) -le 15 ]; then ok "an unreachable broker fails within the timeout"
else bad "an unreachable broker took $((SECONDS - start)) s"; fi
rill console-producer --bootstrap-server "127.0.0.1:$closed" --topic t \
        --connect-timeout-ms 3000 </dev/null
expect_fail_msg "127.0.0.1:$closed" "console-producer reports an unreachable broker"
rill console-consumer --bootstrap-server "127.0.0.1:$closed" --topic t \
        --connect-timeout-ms 3000
expect_fail_msg "127.0.0.1:$closed" "console-consumer reports an unreachable broker"

# ---------------------------------------------------------------------------
echo "# topics"
T=cli-test
rill topics --bootstrap-server "$B" --create --topic "$T" --partitions 3 --replication-factor 1
expect_rc 0 "create $T"
out_has "^Created topic $T\.$" "create prints Kafka's message"
rill topics --bootstrap-server "$B" --create --topic "$T" --partitions 3
expect_fail_msg "Topic '$T' already exists" "creating an existing topic fails"
rill topics --bootstrap-server "$B" --create --topic "$T" --partitions 3 --if-not-exists
expect_rc 0 "--if-not-exists succeeds on an existing topic"
rill topics --bootstrap-server "$B" --create --topic "bad name!"
expect_fail_msg "illegal" "an illegal topic name is refused"
rill topics --bootstrap-server "$B" --create --topic cli-default
expect_rc 0 "create with the broker's default partition count"
rill topics --bootstrap-server "$B" --create --topic cli-compact --partitions 1 \
        --config cleanup.policy=compact --config retention.ms=3600000
expect_rc 0 "create with --config"
rill topics --bootstrap-server "$B" --create --topic cli-badcfg --config cleanup.policy=sideways
expect_rc 1 "an invalid --config value is refused"

rill topics --bootstrap-server "$B" --list
expect_rc 0 "list"
out_has "^$T$" "list shows $T"
out_has "^cli-compact$" "list shows cli-compact"
out_lacks "^cli-badcfg$" "the refused topic was not created"
rill topics --bootstrap-server "$B" --list --exclude-internal
out_lacks "^__" "--exclude-internal hides internal topics"

rill topics --bootstrap-server "$B" --describe --topic "$T"
expect_rc 0 "describe $T"
out_has "^Topic: $T	PartitionCount: 3	ReplicationFactor: 1	Configs: " \
        "describe shows the partition count and replication factor"
if [ "$(grep -cE "^	Topic: $T	Partition: [0-2]	Leader: [0-9]+	Replicas: [0-9]+	Isr: [0-9]+$" "$W/out")" -eq 3 ]; then
        ok "describe shows one line per partition with leader, replicas and ISR"
else
        bad "describe partition lines"
fi
rill topics --bootstrap-server "$B" --describe --topic cli-default
out_has "PartitionCount: 1	" "the default partition count is the broker's num.partitions (1)"
rill topics --bootstrap-server "$B" --describe --topic cli-compact
out_has "Configs: .*cleanup\.policy=compact" "describe shows the topic's configs"
out_has "retention\.ms=3600000" "describe shows every overridden config"
rill topics --bootstrap-server "$B" --describe --topic no-such-topic
expect_fail_msg "does not exist" "describing a missing topic fails"
rill topics --bootstrap-server "$B" --describe --topic no-such-topic --if-exists
expect_rc 0 "describe --if-exists succeeds on a missing topic"
rill topics --bootstrap-server "$B" --describe --topic 'cli-.*'
if [ "$(grep -c "^Topic: " "$W/out")" -eq 3 ]; then ok "--topic takes a regular expression"
else bad "--topic regex matched $(grep -c "^Topic: " "$W/out") topics, expected 3"; fi

# ---------------------------------------------------------------------------
echo "# console-producer and console-consumer"
N=30
: >"$W/input"
for i in $(seq 1 $N); do echo "key-$((i % 7)),value $i" >>"$W/input"; done
rill console-producer --bootstrap-server "$B" --topic "$T" \
        --property parse.key=true --property key.separator=, <"$W/input"
expect_rc 0 "produce $N keyed lines"

rill console-consumer --bootstrap-server "$B" --topic "$T" --from-beginning \
        --max-messages $N --property print.key=true --property key.separator=,
expect_rc 0 "consume $N records from the beginning"
if diff <(sort "$W/input") <(sort "$W/out") >/dev/null; then
        ok "the records read back are exactly the lines produced, with their keys"
else
        bad "records differ from the input"
fi
if grep -qx "Processed a total of $N messages" "$W/err"; then ok "consumer prints the total on stderr"
else bad "no 'Processed a total of $N messages' on stderr"; fi
# Records of one key keep their order (they share a partition).
for k in 0 3; do
        if diff <(grep "^key-$k," "$W/input") <(grep "^key-$k," "$W/out") >/dev/null; then
                ok "records of key-$k come back in produced order"
        else
                bad "records of key-$k are out of order"
        fi
done

rill console-consumer --bootstrap-server "$B" --topic "$T" --from-beginning \
        --max-messages 2 --property print.timestamp=true --property print.partition=true \
        --property print.offset=true --property print.key=true
if [ "$(grep -cE "^CreateTime:[0-9]+	Partition:[0-2]	Offset:[0-9]+	key-[0-6]	value [0-9]+$" "$W/out")" -eq 2 ]; then
        ok "print.timestamp/partition/offset/key use Kafka's format"
else
        bad "formatter output"
fi

rill console-consumer --bootstrap-server "$B" --topic "$T" --timeout-ms 1500
expect_rc 0 "without --from-beginning and no new records: stops at --timeout-ms, status 0"
if [ ! -s "$W/out" ] && grep -qx "Processed a total of 0 messages" "$W/err"; then
        ok "without --from-beginning only new records are printed"
else
        bad "unexpected records without --from-beginning"
fi

# Partition 0, from the earliest offset: exactly that partition's records.
rill console-consumer --bootstrap-server "$B" --topic "$T" --partition 0 --offset earliest \
        --timeout-ms 3000 --property print.partition=true
p0=$(wc -l <"$W/out")
if [ "$RC" -eq 0 ] && [ "$(grep -vc "^Partition:0	" "$W/out")" -eq 0 ]; then
        ok "--partition 0 --offset earliest reads only partition 0 ($p0 records)"
else
        bad "--partition 0 read other partitions"
fi
rill console-consumer --bootstrap-server "$B" --topic "$T" --partition 0 --offset 1 \
        --timeout-ms 3000
if [ "$p0" -gt 0 ] && [ "$(wc -l <"$W/out")" -eq $((p0 - 1)) ]; then
        ok "--offset 1 skips the first record of the partition"
else
        bad "--offset 1 returned $(wc -l <"$W/out") records, expected $((p0 - 1))"
fi
rill console-consumer --bootstrap-server "$B" --topic "$T" --offset 1
expect_fail_msg "partition is required" "--offset without --partition is refused"

printf 'k1,v1\nno separator here\nk3,v3\n' >"$W/badinput"
rill console-producer --bootstrap-server "$B" --topic cli-default \
        --property parse.key=true --property key.separator=, <"$W/badinput"
expect_fail_msg "No key separator found on line number 2" \
        "a line without the key separator is refused with its line number"
rill console-consumer --bootstrap-server "$B" --topic cli-default --from-beginning \
        --timeout-ms 3000 --property print.key=true --property key.separator=,
if [ "$(cat "$W/out")" = "k1,v1" ]; then ok "the lines before the bad one were delivered"
else bad "after a bad line, expected exactly k1,v1 in the topic"; fi

printf 'client.id=rill-cli-test\n# a comment\nacks = all\n' >"$W/client.properties"
echo "from-config-file" | rill console-producer --bootstrap-server "$B" --topic cli-default \
        --command-config "$W/client.properties"
expect_rc 0 "--command-config with a properties file"
rill console-producer --bootstrap-server "$B" --topic cli-default \
        --command-config "$W/missing.properties" </dev/null
expect_fail_msg "cannot read properties file" "a missing --command-config file is reported"
echo "x" | rill console-producer --bootstrap-server "$B" --topic cli-default \
        --producer-property acks=sometimes
expect_fail_msg "invalid client property acks=sometimes" "an invalid producer property is reported"
# A record the broker refuses (larger than its message.max.bytes, 1 MB by
# default): the others are delivered, the failure is reported, status 1.
{ echo before; head -c 3000000 /dev/zero | tr '\0' a; echo; echo after; } >"$W/big"
rill console-producer --bootstrap-server "$B" --topic cli-default \
        --producer-property message.max.bytes=10000000 <"$W/big"
expect_rc 1 "a refused record makes the producer exit 1"
if grep -q "1 of 3 record(s) were not delivered" "$W/err"; then ok "the failed delivery is reported"
else bad "no delivery failure report"; fi
echo "x" | rill console-producer --bootstrap-server "$B" --topic no-such-topic
expect_fail_msg "topic 'no-such-topic' does not exist" \
        "producing to a missing topic (auto-create off) is reported"

# ---------------------------------------------------------------------------
echo "# groups"
G=cli-group
rill console-consumer --bootstrap-server "$B" --topic "$T" --from-beginning --group "$G" \
        --max-messages $N --timeout-ms 30000
expect_rc 0 "consume with --group $G"
if [ "$(wc -l <"$W/out")" -eq $N ]; then ok "the group consumer read all $N records"
else bad "the group consumer read $(wc -l <"$W/out") records"; fi

rill groups --bootstrap-server "$B" --list
expect_rc 0 "groups --list"
out_has "^$G$" "groups --list shows $G"

# Sums the CURRENT-OFFSET (or LAG) column of a --describe table in $W/out.
sum_col() {
        awk -v g="$G" -v c="$1" '$1 == g && $3 ~ /^[0-9]+$/ { s += $c } END { print s + 0 }' "$W/out"
}

rill groups --bootstrap-server "$B" --describe --group "$G"
expect_rc 0 "groups --describe"
out_has "^GROUP +TOPIC +PARTITION +CURRENT-OFFSET +LOG-END-OFFSET +LAG +CONSUMER-ID +HOST +CLIENT-ID$" \
        "describe has Kafka's columns"
rows=$(awk -v g="$G" -v t="$T" '$1 == g && $2 == t' "$W/out" | wc -l)
if [ "$rows" -eq 3 ]; then ok "describe has one row per partition"; else bad "describe has $rows rows"; fi
if [ "$(sum_col 4)" -eq $N ]; then ok "committed offsets add up to $N"
else bad "committed offsets add up to $(sum_col 4), expected $N"; fi
if awk -v g="$G" '$1 == g && $3 ~ /^[0-9]+$/ && !($4 == $5 && $6 == 0) { bad = 1 } END { exit bad }' "$W/out"; then
        ok "every partition has CURRENT-OFFSET = LOG-END-OFFSET and LAG 0"
else
        bad "lag is not 0 after consuming everything"
fi

printf 'a,new 1\nb,new 2\nc,new 3\nd,new 4\n' | rill console-producer --bootstrap-server "$B" \
        --topic "$T" --property parse.key=true --property key.separator=,
rill groups --bootstrap-server "$B" --describe --group "$G"
if [ "$(sum_col 6)" -eq 4 ]; then ok "the lag is 4 after 4 more records"
else bad "lag is $(sum_col 6), expected 4"; fi

rill groups --bootstrap-server "$B" --describe --group "$G" --state
expect_rc 0 "groups --describe --state"
out_has "Empty" "a group without members is Empty"
rill groups --bootstrap-server "$B" --describe --group "$G" --members
out_has "has no active members" "--members of an empty group says so"

rill console-consumer --bootstrap-server "$B" --topic "$T" --group "$G" --max-messages 4 \
        --timeout-ms 30000
if [ "$RC" -eq 0 ] && [ "$(sort "$W/out" | tr '\n' ' ')" = "new 1 new 2 new 3 new 4 " ]; then
        ok "a second run of the group resumes after the committed offsets"
else
        bad "second group run did not read exactly the 4 new records"
fi

rill groups --bootstrap-server "$B" --reset-offsets --group "$G" --topic "$T" --to-earliest
expect_rc 0 "reset-offsets dry run"
rill groups --bootstrap-server "$B" --describe --group "$G"
if [ "$(sum_col 6)" -eq 0 ]; then ok "a dry run changes nothing"; else bad "dry run changed offsets"; fi
rill groups --bootstrap-server "$B" --reset-offsets --group "$G" --topic "$T" --to-earliest \
        --execute
expect_rc 0 "reset-offsets --to-earliest --execute"
rill groups --bootstrap-server "$B" --describe --group "$G"
if [ "$(sum_col 4)" -eq 0 ] && [ "$(sum_col 6)" -eq $((N + 4)) ]; then
        ok "after the reset the lag is the whole topic"
else
        bad "after reset: current sum $(sum_col 4), lag sum $(sum_col 6)"
fi

rill groups --bootstrap-server "$B" --describe --group no-such-group
expect_fail_msg "Consumer group 'no-such-group' does not exist" "describing a missing group fails"
rill groups --bootstrap-server "$B" --delete --group "$G"
expect_rc 0 "groups --delete"
out_has "Deletion of requested consumer groups \('$G'\) was successful" "delete prints Kafka's message"
rill groups --bootstrap-server "$B" --list
out_lacks "^$G$" "the deleted group is gone from --list"

# ---------------------------------------------------------------------------
echo "# alter and delete topics"
rill topics --bootstrap-server "$B" --alter --topic "$T" --partitions 5
expect_rc 0 "alter to 5 partitions"
rill topics --bootstrap-server "$B" --describe --topic "$T"
out_has "PartitionCount: 5" "describe shows 5 partitions after --alter"
rill topics --bootstrap-server "$B" --alter --topic "$T" --partitions 2
expect_fail_msg "can only be increased" "decreasing partitions is refused"

rill topics --bootstrap-server "$B" --delete --topic cli-compact
expect_rc 0 "delete cli-compact"
gone=0
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
        rill topics --bootstrap-server "$B" --list
        if ! grep -qx "cli-compact" "$W/out"; then gone=1; break; fi
        sleep 0.2
done
if [ "$gone" = 1 ]; then ok "the deleted topic is gone from --list"; else bad "cli-compact still listed"; fi
rill topics --bootstrap-server "$B" --delete --topic cli-compact
expect_fail_msg "does not exist" "deleting a missing topic fails"
rill topics --bootstrap-server "$B" --delete --topic cli-compact --if-exists
expect_rc 0 "delete --if-exists succeeds on a missing topic"

# ---------------------------------------------------------------------------
echo "# configs"
rill configs --bootstrap-server "$B" --topic "$T" --describe
expect_rc 0 "configs --describe"
out_has "^Dynamic configs for topic $T are:$" "configs --describe uses Kafka's heading"
rill configs --bootstrap-server "$B" --entity-type topics --entity-name "$T" --alter \
        --add-config 'retention.ms=86400000,cleanup.policy=[compact,delete]'
expect_rc 0 "configs --alter --add-config"
out_has "^Completed updating config for topic $T\.$" "configs --alter prints Kafka's message"
rill configs --bootstrap-server "$B" --topic "$T" --describe
out_has "^  retention\.ms=86400000 sensitive=false" "the added config is listed"
out_has "^  cleanup\.policy=compact,delete " "a bracketed list value is one value"
rill topics --bootstrap-server "$B" --describe --topic "$T" --topics-with-overrides
out_has "^Topic: $T	.*retention\.ms=86400000" "topics --describe shows the new override"
rill configs --bootstrap-server "$B" --topic "$T" --alter --delete-config retention.ms
expect_rc 0 "configs --alter --delete-config"
rill configs --bootstrap-server "$B" --topic "$T" --describe
out_lacks "retention\.ms=86400000" "the deleted config is gone"
out_has "cleanup\.policy=compact,delete" "deleting one config keeps the others"
rill configs --bootstrap-server "$B" --topic "$T" --alter --delete-config never.set
expect_fail_msg "Invalid config\(s\): never\.set" "deleting a config that is not set fails"
rill configs --bootstrap-server "$B" --topic no-such-topic --describe
expect_fail_msg "does not exist" "configs of a missing topic fail"

# ---------------------------------------------------------------------------
echo "# Kafka script names"
ln -s "$(cd "$BIN" && pwd)/rill" "$W/kafka-topics.sh"
RC=0
timeout 60 "$W/kafka-topics.sh" --bootstrap-server "$B" --list >"$W/out" 2>"$W/err" || RC=$?
expect_rc 0 "a kafka-topics.sh symlink runs rill topics"
out_has "^$T$" "kafka-topics.sh --list lists the topics"

# ---------------------------------------------------------------------------
echo "# console-consumer deserializers (Kafka class names)"
TD=deser-topic
rill topics --bootstrap-server "$B" --create --topic "$TD" --partitions 1 --replication-factor 1
expect_rc 0 "create $TD"
# kcat -P with file arguments sends each file as one record, bytes as they are.
printf 'k1' >"$W/k1"
printf '\000\000\000\000\000\000\001\000' >"$W/v-long"     # 256 as int64
printf '\377\377\377\376' >"$W/v-int"                           # -2 as int32
printf 'abc' >"$W/v-short3"                                     # 3 bytes: not a long
for f in v-long v-int v-short3; do
        timeout 30 kcat -b "$B" -P -t "$TD" -p 0 "$W/$f" || bad "kcat produced $f"
done
rill console-consumer --bootstrap-server "$B" --topic "$TD" --from-beginning --max-messages 1 \
        --timeout-ms 20000 \
        --property value.deserializer=org.apache.kafka.common.serialization.LongDeserializer
expect_rc 0 "consume with LongDeserializer"
out_has "^256$" "LongDeserializer prints a big-endian int64 as a number"
rill console-consumer --bootstrap-server "$B" --topic "$TD" --partition 0 --offset 1 \
        --max-messages 1 --timeout-ms 20000 --property value.deserializer=IntegerDeserializer
out_has "^-2$" "IntegerDeserializer (short class name) prints a signed int32"
rill console-consumer --bootstrap-server "$B" --topic "$TD" --partition 0 --offset 2 \
        --max-messages 1 --timeout-ms 20000 --property value.deserializer=LongDeserializer
out_has "^<3 bytes: 61 62 63>$" "a value of the wrong size is shown as bytes, not a number"
rill console-consumer --bootstrap-server "$B" --topic "$TD" --from-beginning --max-messages 1 \
        --timeout-ms 5000 --property value.deserializer=com.example.NoSuchDeserializer
expect_fail_msg "unknown value.deserializer" "an unknown deserializer class is refused"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
