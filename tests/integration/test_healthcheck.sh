#!/usr/bin/env bash
# `netsentry healthcheck` (the image's HEALTHCHECK) against a real `netsentry serve` process: exit 0 on
# /healthz while it serves, even before it has a model (--wait-for-model), while /readyz is then 503
# (exit 1, the status and body said); once the server has stopped, and on a port where nothing
# listens, exit 1 with "connection refused"; a malformed URL is a usage error (exit 2).
# Usage: test_healthcheck.sh NETSENTRY_BINARY [SHARED_DATA_DIR]
set -euo pipefail
bin=$(readlink -f "$1")
work=$(mktemp -d "${TMPDIR:-/tmp}/netsentry-healthcheck.XXXXXX")
pid=""
cleanup() {
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# Runs the healthcheck; sets rc, out and err.
check() {
  set +e
  "$bin" healthcheck "$@" >"$work/out" 2>"$work/err"
  rc=$?
  set -e
  out=$(cat "$work/out")
  err=$(cat "$work/err")
}

NETSENTRY_API_TOKEN=healthcheck-token "$bin" serve --model-dir "$work/models/current" --wait-for-model \
  --host 127.0.0.1 --port 0 >"$work/serve.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 300); do
  port=$(grep -o 'serving on http://127.0.0.1:[0-9]*' "$work/serve.log" | sed 's/.*://' || true)
  [[ -n $port ]] && break
  kill -0 "$pid" 2>/dev/null || fail "serve exited: $(cat "$work/serve.log")"
  sleep 0.1
done
[[ -n $port ]] || fail "serve did not start: $(cat "$work/serve.log")"
base=http://127.0.0.1:$port

check --url "$base/healthz"
[[ $rc -eq 0 ]] || fail "healthz of a serving process: exit $rc ($err)"
[[ $out == "healthcheck $base/healthz: 200 OK" ]] || fail "unexpected output: $out"

check --url "$base/readyz"
[[ $rc -eq 1 ]] || fail "readyz without a model: exit $rc, expected 1"
[[ $err == *"$base/readyz: 503 Service Unavailable, expected 200 (body '{\"status\":\"no model\"}')"* ]] ||
  fail "readyz message: $err"

kill -TERM "$pid"
wait "$pid" || fail "serve did not stop cleanly on SIGTERM: $(cat "$work/serve.log")"
pid=""
check --url "$base/healthz" --timeout-seconds 5
[[ $rc -eq 1 ]] || fail "healthz of a stopped server: exit $rc, expected 1"
[[ $err == *"$base/healthz: connection refused (nothing listens on 127.0.0.1:$port)"* ]] ||
  fail "stopped server message: $err"
[[ $(wc -l <"$work/err") -eq 1 ]] || fail "expected one line on stderr, got: $err"

# A port bound and never listened on: nothing can take it from under the test.
python3 - "$work/port" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(60)
EOF
holder=$!
for _ in $(seq 100); do [[ -s $work/port ]] && break; sleep 0.1; done
dead=$(cat "$work/port")
check --url "http://127.0.0.1:$dead/healthz"
kill "$holder" 2>/dev/null || true
[[ $rc -eq 1 ]] || fail "a dead port: exit $rc, expected 1"
[[ $err == *"connection refused (nothing listens on 127.0.0.1:$dead)"* ]] || fail "dead port message: $err"

check --url "ftp://127.0.0.1/healthz"
[[ $rc -eq 2 ]] || fail "a malformed URL: exit $rc, expected 2"
[[ $err == *"healthcheck URL 'ftp://127.0.0.1/healthz': expected http://HOST[:PORT][/PATH]"* ]] ||
  fail "malformed URL message: $err"
echo "healthcheck checks ok"
