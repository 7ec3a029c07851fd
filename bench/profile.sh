#!/usr/bin/env bash
# Profiles Portcullis under one scenario of bench/run.py: starts the harness (SQLite,
# no peer, one 12 s run), attaches `perf record` to the server for 5 s in the middle
# of the measured run, and prints where the time went: by thread, by library, the
# hottest functions, and the inclusive share of the functions named in FOCUS.
#
#   bench/profile.sh cc_opaque                 # needs perf (Debian: linux-perf)
#   FOCUS="get_client get_token writev" bench/profile.sh introspect_opaque
#   PERF_DATA=/tmp/x.perf bench/profile.sh refresh   # keep the recording
#   FLAMEGRAPH=cc.svg bench/profile.sh cc_opaque      # also draw a flame graph (needs
#                                                     # inferno: cargo install inferno)
#
# Call graphs come from DWARF unwinding (the release build has no frame pointers),
# sampled at 300 Hz; the flat profile needs none of that.
set -euo pipefail
scenario=${1:?usage: bench/profile.sh SCENARIO}
here=$(cd "$(dirname "$0")" && pwd)
binary=${BINARY:-$here/../target/release/portcullis}
data=${PERF_DATA:-$(mktemp /tmp/portcullis-perf.XXXXXX)}
log=$(mktemp /tmp/portcullis-profile-log.XXXXXX)
out=$(mktemp -d /tmp/portcullis-profile-report.XXXXXX)  # the harness's own report: not for bench/results
focus=${FOCUS:-"get_client get_token insert_token writer::run in_savepoint sqlite3_step __GI___writev authenticate"}
command -v perf >/dev/null || { echo "perf is required (Debian: apt-get install linux-perf)" >&2; exit 2; }
[ -x "$binary" ] || { echo "no binary at $binary: cargo build --release -p portcullis" >&2; exit 2; }

python3 "$here/run.py" --backends sqlite --scenarios "$scenario" --duration 12 --repeats 1 --no-peer \
  --binary "$binary" --out "$out" >"$log" 2>&1 &
harness=$!
trap 'kill $harness 2>/dev/null || true' EXIT
# The floor (/healthz) runs first; the scenario's warm-up and run follow it.
for _ in $(seq 1 900); do grep -q "healthz \[portcullis/sqlite\] #1" "$log" && break; sleep 0.2; done
sleep 5
pid=$(pgrep -f "portcullis.*serve --bind" | head -1)
[ -n "$pid" ] || { echo "the server did not start; harness log: $log" >&2; exit 1; }
perf record -F 300 -e cpu-clock --call-graph dwarf,16384 -p "$pid" -o "$data" -- sleep 5 >/dev/null 2>&1
wait $harness || true
trap - EXIT
grep -E "\] $scenario \[portcullis" "$log" || true
# `head` closes the pipes below early; that is not a failure.
set +o pipefail

echo "== by thread";   perf report -i "$data" -g none --no-children --sort comm 2>/dev/null | grep -E '^ +[0-9]' | head -5
echo "== by library";  perf report -i "$data" -g none --no-children --sort dso 2>/dev/null | grep -E '^ +[0-9]' | head -5
echo "== hottest functions (self)"
perf report -i "$data" -g none --no-children --sort sym 2>/dev/null | grep -E '^ +[0-9]' | head -25 | cut -c1-140
echo "== inclusive share of: $focus"
perf script -i "$data" -F comm,ip,sym 2>/dev/null | python3 -c '
import sys
focus = sys.argv[1].split()
samples, cur = [], []
for line in sys.stdin:
    if not line.strip():
        if cur: samples.append(cur); cur = []
    elif line[0] in " \t":
        cur.append(line.strip())
    else:
        if cur: samples.append(cur)
        cur = []
if cur: samples.append(cur)
for name in focus:
    n = sum(1 for s in samples if any(name in f for f in s))
    print(f"{100 * n / max(1, len(samples)):5.1f}%  {name}")
' "$focus"
if [ -n "${FLAMEGRAPH:-}" ]; then
  command -v inferno-flamegraph >/dev/null || { echo "FLAMEGRAPH needs inferno: cargo install inferno" >&2; exit 2; }
  perf script -i "$data" 2>/dev/null | inferno-collapse-perf | \
    inferno-flamegraph --title "portcullis serve: $scenario (server on one core, 64 connections)" >"$FLAMEGRAPH"
  echo "flame graph: $FLAMEGRAPH"
fi
echo "(recording: $data; harness log: $log)"
