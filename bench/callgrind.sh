#!/usr/bin/env bash
# Instructions per request, counted by callgrind: a measure of a change that this
# shared machine's noise cannot blur (wall-clock runs vary by ±15% or more from one
# minute to the next; callgrind counts the same work the same way).
#
#   bench/callgrind.sh BINARY [SCENARIO] [SECONDS]    # SCENARIO: cc (default) or introspect
#   for b in /tmp/before /tmp/after; do bench/callgrind.sh $b cc 15; done
#
# Starts BINARY's `serve` under valgrind on a fresh SQLite file with one confidential
# client, warms it up with 3 s of wrk, zeroes the counters, runs wrk (16 connections)
# for SECONDS, dumps, and prints the server's instructions divided by the requests wrk
# completed (every thread of the server, the SQLite writer included). Under valgrind the
# server runs ~50× slower and its threads one at a time, so compare binaries only with
# each other, never with req/s figures; repeat each once to see the spread (≈1%).
set -euo pipefail
bin=${1:?usage: bench/callgrind.sh BINARY [cc|introspect] [SECONDS]}
scenario=${2:-cc}
secs=${3:-15}
for tool in valgrind callgrind_control callgrind_annotate wrk curl; do
  command -v $tool >/dev/null || { echo "$tool is required" >&2; exit 2; }
done
dir=$(mktemp -d /tmp/portcullis-callgrind.XXXXXX)
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
db="sqlite://$dir/portcullis.db?mode=rwc"
client=$("$bin" --database "$db" client create --realm default --name bench --grant-types client_credentials \
  --scope "a b" --resource-server --json)
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
auth=$(printf '%s:%s' "$(field client_id <<<"$client")" "$(field client_secret <<<"$client")" | base64 -w0)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port/realms/default/oauth
valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" "$bin" --database "$db" serve \
  --bind 127.0.0.1:$port >"$dir/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 240); do curl -sf http://127.0.0.1:$port/healthz >/dev/null && break; sleep 0.5; done
case $scenario in
  cc) path=token; body="grant_type=client_credentials&scope=a"; expect='"access_token":"' ;;
  introspect)
    path=introspect
    token=$(curl -sf -H "Authorization: Basic $auth" -d grant_type=client_credentials -d scope=a "$base/token" | field access_token)
    body="token=$token"; expect='"active":true' ;;
  *) echo "unknown scenario $scenario (cc, introspect)" >&2; exit 2 ;;
esac
cat >"$dir/load.lua" <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $auth"
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = 0
function response(status, headers, body)
  if status ~= 200 or not string.find(body, '$expect', 1, true) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("bad") end
  io.write("bad answers: " .. n .. "\n")
end
LUA
wrk -t1 -c16 -d3s -s "$dir/load.lua" "$base/$path" >/dev/null
callgrind_control -z $server >/dev/null 2>&1
out=$(wrk -t1 -c16 -d${secs}s -s "$dir/load.lua" "$base/$path")
callgrind_control -d $server >/dev/null 2>&1
kill $server; wait $server 2>/dev/null || true
requests=$(awk '/requests in/{print $1}' <<<"$out")
bad=$(awk '/bad answers:/{print $3}' <<<"$out")
[ "$bad" = 0 ] || { echo "answers without $expect (or not 200):" >&2; echo "$out" >&2; exit 1; }
# The dump after zeroing is the largest numbered file; the final one at exit holds the rest.
instructions=$(for f in "$dir"/callgrind.out.*; do callgrind_annotate "$f" 2>/dev/null |
  awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}'; done | sort -n | tail -1)
echo "$(basename "$bin") $scenario: $requests requests, $instructions instructions, $((instructions / requests)) per request"
