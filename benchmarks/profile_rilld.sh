#!/usr/bin/env bash
# profile_rilld.sh - where does rilld's time go under bench-broker's load?
#
# Usage: benchmarks/profile_rilld.sh [perf|callgrind] [bench-broker options...]
#   BUILD=<dir> selects the build directory (default: build next to this script).
#   OUT=<dir> keeps the profiles there (default: a new temporary directory).
#
# perf (default): runs bench-broker against rilld only, attaches
#   `perf record -e cpu-clock` (a software event: this works on machines
#   without hardware counters) with DWARF call graphs to the rilld process
#   once its topic exists, and prints for each phase (produce, consume,
#   latency; bench-broker --verbose gives their CLOCK_MONOTONIC windows) the
#   symbols with the most self time and the rilld functions and system calls
#   with the most inclusive time. Kernel samples show up as [k] symbols; on
#   a paravirtualised VM many land on the irq-enable hook (pvm_irq_enable)
#   after the interrupts-off section they belong to, so read the call graph
#   (perf report -i OUT/rilld.perf --time A,B -G) for those.
# callgrind: runs rilld under valgrind --tool=callgrind, collecting only
#   inside the event loop (rill__net_run), once per phase set (produce;
#   produce+consume; latency) with a smaller default load, and prints the
#   user-space instruction counts per function. Kernel work (copies, page
#   faults, system calls) is invisible to callgrind; use perf for it.
#
# Default load: --count 1000000 for perf, 200000 for callgrind (override with
# --count). Nothing here asserts timings.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
bench=$build/bin/bench-broker
mode=perf
if [ $# -gt 0 ] && { [ "$1" = perf ] || [ "$1" = callgrind ]; }; then
        mode=$1
        shift
fi
[ -x "$bench" ] || { echo "profile_rilld: $bench not found (set BUILD)" >&2; exit 1; }
out=${OUT:-$(mktemp -d /tmp/rilld-profile-XXXXXX)}
mkdir -p "$out"

if [ "$mode" = perf ]; then
        command -v perf >/dev/null || { echo "profile_rilld: perf not installed (apt-get install linux-perf)" >&2; exit 1; }
        "$bench" --target rilld --verbose --count 1000000 "$@" \
                --profile-cmd "perf record -q -k CLOCK_MONOTONIC -e cpu-clock -F 2999 --call-graph dwarf,16384 -p %p -o $out/rilld.perf" \
                >"$out/bench.txt" 2>"$out/bench.err" || { cat "$out/bench.err" >&2; exit 1; }
        grep -E '^  (produce|consume|latency):' "$out/bench.txt" || true
        grep -E 'window CLOCK_MONOTONIC' "$out/bench.err" | while read -r _ phase _ _ win; do
                echo
                echo "=== $phase ($win): self time, top 15"
                { perf report -i "$out/rilld.perf" --time "$win" --no-children --sort dso,sym \
                        --stdio -g none </dev/null 2>/dev/null | grep '%' | grep -v '^#' |
                        head -15; } || true
                echo "--- $phase: inclusive time of user-space frames, top 20"
                { perf report -i "$out/rilld.perf" --time "$win" --children --sort sym \
                        --stdio -g none </dev/null 2>/dev/null | grep '%' | grep -v '^#' |
                        grep -v '\[k\]' | grep -v -E 'clone3|start_thread|0x0000' |
                        head -20; } || true
        done
else
        command -v valgrind >/dev/null || { echo "profile_rilld: valgrind not installed" >&2; exit 1; }
        for phases in produce produce,consume latency; do
                tag=${phases//,/_}
                "$bench" --target rilld --count 200000 --latency-count 2000 --phases "$phases" "$@" \
                        --wrapper "valgrind --tool=callgrind --collect-atstart=no --toggle-collect=rill__net_run --callgrind-out-file=$out/callgrind.$tag" \
                        >"$out/bench.$tag.txt" 2>&1 || { cat "$out/bench.$tag.txt" >&2; exit 1; }
                echo
                echo "=== phases $phases: user-space instructions (Ir), top 15 functions"
                { callgrind_annotate --inclusive=no "$out/callgrind.$tag" 2>/dev/null |
                        sed -n '/PROGRAM TOTALS/,$p' | grep -E '^ *[0-9,]+ ' | head -16; } || true
        done
fi
echo
echo "profiles kept in $out"
