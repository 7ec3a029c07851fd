#!/bin/sh
# Time from "PostgreSQL gone" to the first 503, through the real binary: the server
# reaches PostgreSQL (127.0.0.1:5432, trust auth) through socat on port 55432, which
# is killed with its connections. Needs socat, psql and curl.
set -e
psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS faults_measure WITH (FORCE)" -c "CREATE DATABASE faults_measure"
BIN=${BIN:-./target/debug/portcullis}
socat TCP-LISTEN:55432,reuseaddr,fork TCP:127.0.0.1:5432 & SOCAT=$!
sleep 0.5
export PORTCULLIS_DATABASE_URL=postgres://postgres@127.0.0.1:55432/faults_measure
$BIN client create --realm default --name m --grant-types client_credentials --scope a --json > /tmp/m.out 2>&1 || true
ID=$(grep -o '"client_id": *"[^"]*"' /tmp/m.out | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
SECRET=$(grep -o '"client_secret": *"[^"]*"' /tmp/m.out | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
$BIN serve --bind 127.0.0.1:18080 > /tmp/serve.log 2>&1 & SERVE=$!
sleep 2
curl -s -o /dev/null -w "before: %{http_code}\n" -u "$ID:$SECRET" -d grant_type=client_credentials http://127.0.0.1:18080/realms/default/oauth/token
KIDS=$(ps -o pid= --ppid $SOCAT); kill $SOCAT $KIDS
curl -s -o /dev/null -w "token after PostgreSQL is gone: %{http_code} in %{time_total}s\n" -u "$ID:$SECRET" -d grant_type=client_credentials http://127.0.0.1:18080/realms/default/oauth/token
curl -s -o /dev/null -w "readyz: %{http_code} in %{time_total}s\n" http://127.0.0.1:18080/readyz
kill $SERVE
psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE faults_measure WITH (FORCE)"
