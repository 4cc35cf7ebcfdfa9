#!/usr/bin/env bash
# Crash safety of the registry, push/pull and train: processes are killed with SIGKILL
#  1. at every named point of the NETSENTRY_CRASH_AT test hook (registry add/promote/rollback, push, pull),
#  2. after random short delays, many times (train, registry add, promote --force, push, pull),
# and after each kill: `registry list --verify` shows no broken version, the production model loads
# through registry/production, and a pull never yields a version that differs from what was pushed.
# Usage: test_crash_safety.sh NETSENTRY_BINARY [SHARED_DATA_DIR]
set -euo pipefail
BIN=$(readlink -f "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S3RVER_JS=$ROOT/tests/node_modules/s3rver/bin/s3rver.js
ITER=${NETSENTRY_CRASH_ITERATIONS:-20}
[[ -n ${NETSENTRY_SANITIZED:-} ]] && ITER=${NETSENTRY_CRASH_ITERATIONS:-8}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/netsentry-crash.XXXXXX")
S3PID=
cleanup() {
  if [[ -n $S3PID ]]; then kill "$S3PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

source "$ROOT/tests/support/small_project.sh"
make_small_project "$WORK" -1.0
cd "$WORK"
"$BIN" sample-data --rows 500 --seed 3 --output data.csv 2>/dev/null
"$BIN" -q train --data data.csv --model-dir final_model --json >train.json || fail "train failed"
RUN_DIR=$(sed -n 's/.*"run_dir":"\([^"]*\)".*/\1/p' train.json)
if ! "$BIN" registry list --json | grep -q '"version":"v1"'; then
  "$BIN" -q registry add final_model --run-dir "$RUN_DIR" >/dev/null || fail "registry add failed"
fi

# The invariants, checked after every kill.
check() {
  local what=$1 reg=${2:-registry}
  "$BIN" -q registry list --registry "$reg" --verify --json >list.json 2>list.err ||
    fail "after $what: registry list --verify failed: $(cat list.json list.err)"
  if grep -q '"intact":false' list.json; then fail "after $what: a listed version is broken: $(cat list.json)"; fi
  if grep -q '"production":"v' list.json; then
    "$BIN" -q predict --model-dir "$reg/production/bundle" --input data.csv --output pred.csv 2>pred.err ||
      fail "after $what: the production model does not load: $(cat pred.err)"
  fi
}

# Runs a command that must die of SIGKILL at the named crash point.
crash_at() {
  local point=$1
  shift
  local rc=0
  NETSENTRY_CRASH_AT=$point "$@" >/dev/null 2>crash.err || rc=$?
  [[ $rc -eq 137 ]] || fail "expected a SIGKILL at $point (exit 137), got exit $rc: $(cat crash.err)"
}

# Same, but the point may legitimately not be reached (e.g. a rollback to the version the production
# link already shows does not need to switch the link).
may_crash_at() {
  local point=$1
  shift
  local rc=0
  NETSENTRY_CRASH_AT=$point "$@" >/dev/null 2>crash.err || rc=$?
  [[ $rc -eq 137 || $rc -eq 0 ]] || fail "expected a SIGKILL at $point or success, got exit $rc: $(cat crash.err)"
}
non_production() {
  "$BIN" registry list | awk 'NR > 1 && $2 != "production" { print $1 }' | shuf -n 1
}

check "setup"
# --- 1. named points -------------------------------------------------------------------------------
for point in register.staged register.claimed register.published promote.state_written promote.symlink_created; do
  crash_at "$point" "$BIN" -q registry add final_model --run-dir "$RUN_DIR"
  check "registry add killed at $point"
done
for point in promote.state_written promote.symlink_created promote.state_written; do
  v=$(non_production)
  crash_at "$point" "$BIN" -q registry promote "$v" --force
  check "registry promote $v killed at $point"
  may_crash_at "$point" "$BIN" -q registry rollback
  check "registry rollback killed at $point"
done
# A crash between the state write and the link switch leaves the link on the old production (which
# loads); the next registry command repairs it to match registry.json.
v=$(non_production)
crash_at promote.state_written "$BIN" -q registry promote "$v" --force
[[ $(readlink registry/production) != "$v" ]] || fail "the link moved before the crash point"
"$BIN" -q registry promote "$v" --force >/dev/null
[[ $(readlink registry/production) == "$v" ]] || fail "production link not repaired: $(readlink registry/production)"
check "repair"
# Stale temp dirs of killed processes are gone after the next registration.
"$BIN" -q registry add final_model --run-dir "$RUN_DIR" >/dev/null
if compgen -G 'registry/.tmp.*' >/dev/null; then fail "stale temp dirs left: $(ls -a registry)"; fi

# --- push / pull (needs s3rver) ----------------------------------------------------------------------
if [[ -f $S3RVER_JS ]] && command -v node >/dev/null; then
  node --openssl-legacy-provider "$S3RVER_JS" -d "$WORK/s3data" -a 127.0.0.1 -p 0 >"$WORK/s3rver.log" 2>&1 &
  S3PID=$!
  PORT=
  for _ in $(seq 100); do
    PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$WORK/s3rver.log" | sed 's/.*://' || true)
    [[ -n $PORT ]] && break
    sleep 0.1
  done
  [[ -n $PORT ]] || fail "s3rver did not start"
  EP=http://127.0.0.1:$PORT
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 || true
  command -v aws >/dev/null || fail "the aws CLI is needed to create the bucket (apt-get install awscli)"
  aws --endpoint-url "$EP" s3 mb s3://crash >/dev/null
  prod=$("$BIN" registry list --json | sed -n 's/.*"production":"\(v[0-9]*\)".*/\1/p')
  # Pull checks after a killed push: either refused (no manifest) or byte-identical.
  pull_check() {
    local what=$1 dest=pulled.$RANDOM
    if "$BIN" -q pull --from "s3://crash/m/$prod" --endpoint "$EP" --registry "$dest" >/dev/null 2>pull.err; then
      diff -r "registry/$prod" "$dest/v1" >/dev/null || fail "after $what: pulled version differs from the pushed one"
    else
      grep -q "manifest" pull.err || fail "after $what: pull failed for another reason: $(cat pull.err)"
      if compgen -G "$dest/v*" >/dev/null; then fail "after $what: a refused pull left a version"; fi
    fi
    check "$what (pulled registry)" "$dest"
    rm -rf "$dest"
  }
  for point in push.object:1 push.object:3 push.before_manifest; do
    crash_at "$point" "$BIN" -q push --to s3://crash/m --endpoint "$EP"
    pull_check "push killed at $point"
  done
  "$BIN" -q push --to s3://crash/m --endpoint "$EP" >/dev/null || fail "push failed"
  pull_check "complete push"
  mkdir -p target
  for point in pull.object:1 pull.object:3 pull.staged register.claimed register.published; do
    crash_at "$point" "$BIN" -q pull --from "s3://crash/m/$prod" --endpoint "$EP" --registry target
    check "pull killed at $point" target
  done
  "$BIN" -q pull --from "s3://crash/m/$prod" --endpoint "$EP" --registry target >/dev/null || fail "pull failed"
  check "pull after crashes" target
  if compgen -G 'target/.tmp.*' >/dev/null; then fail "stale pull temp dirs left: $(ls -a target)"; fi
fi

# --- 2. random SIGKILLs --------------------------------------------------------------------------------
kill_after() {  # kill_after SECONDS CMD...: runs CMD, SIGKILLs it after SECONDS if still running
  local delay=$1
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
for i in $(seq "$ITER"); do
  d=0.$(printf '%03d' $((RANDOM % 400)))
  case $((i % 4)) in
    0) kill_after "$d" "$BIN" -q train --data data.csv --model-dir final_model ;;
    1) kill_after "$d" "$BIN" -q registry add final_model --run-dir "$RUN_DIR" ;;
    2)
      v=$("$BIN" registry list | awk 'NR > 1 { print $1 }' | shuf -n 1)
      kill_after "$d" "$BIN" -q registry promote "$v" --force
      ;;
    3)
      if [[ -n $S3PID ]]; then
        kill_after "$d" "$BIN" -q pull --from "s3://crash/m/$prod" --endpoint "$EP" --registry target
        check "random kill of pull ($d s)" target
      else
        kill_after "$d" "$BIN" -q registry rollback
      fi
      ;;
  esac
  check "random kill #$i ($d s)"
  # A model directory published by train is either absent or complete.
  if [[ -d final_model ]]; then
    "$BIN" -q predict --model-dir final_model --input data.csv --output pred.csv 2>pred.err ||
      fail "after random kill #$i: final_model does not load: $(cat pred.err)"
  fi
done
echo "ok: crash safety ($ITER random kills)"
