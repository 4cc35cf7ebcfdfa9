#!/usr/bin/env bash
# End to end: train -> registry (gate) -> push to S3 -> list with the aws CLI -> pull into a fresh registry,
# against npm's s3rver on a free loopback port. The pulled version must load and be byte-identical.
# Also: an unchanged re-push uploads nothing, a tampered object and a missing manifest are refused by pull,
# an unknown access key fails the push; credentials come from a profile of the shared files as well as
# from the environment.
# Usage: test_s3.sh NETSENTRY_BINARY [SHARED_DATA_DIR]
set -euo pipefail
BIN=$(readlink -f "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S3RVER_JS=$ROOT/tests/node_modules/s3rver/bin/s3rver.js
[[ -f $S3RVER_JS ]] || bash "$ROOT/scripts/install-npm-tools.sh"
[[ -f $S3RVER_JS ]] || { echo "FAIL: s3rver is not installed (scripts/install-npm-tools.sh)"; exit 1; }
command -v aws >/dev/null || { echo "FAIL: the aws CLI is not installed (apt-get install awscli)"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/netsentry-s3.XXXXXX")
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

# --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES.
node --openssl-legacy-provider "$S3RVER_JS" -d "$WORK/s3data" -a 127.0.0.1 -p 0 >"$WORK/s3rver.log" 2>&1 &
S3PID=$!
PORT=
for _ in $(seq 100); do
  PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$WORK/s3rver.log" | sed 's/.*://' || true)
  [[ -n $PORT ]] && break
  sleep 0.1
done
[[ -n $PORT ]] || fail "s3rver did not start: $(cat "$WORK/s3rver.log")"
EP=http://127.0.0.1:$PORT
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
# Nothing may ask the instance metadata address, whatever falls through the credential chain.
export AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE AWS_CONFIG_FILE \
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_EC2_METADATA_SERVICE_ENDPOINT || true
aws --endpoint-url "$EP" s3 mb s3://models >/dev/null

source "$ROOT/tests/support/small_project.sh"
make_small_project "$WORK"
cd "$WORK"
"$BIN" sample-data --rows 600 --seed 7 --output data.csv 2>/dev/null
"$BIN" -q train --data data.csv --model-dir final_model --json >train.json || fail "train failed"
RUN_DIR=$(sed -n 's/.*"run_dir":"\([^"]*\)".*/\1/p' train.json)
if [[ ! -d $RUN_DIR ]]; then
  runs=(artifacts/*/)
  RUN_DIR=${runs[0]}
fi
# `train` registers its bundle when the training pipeline calls register_after_training; otherwise add it.
if ! "$BIN" registry list --json | grep -q '"version":"v1"'; then
  "$BIN" -q registry add final_model --run-dir "$RUN_DIR" --json >add.json || fail "registry add failed"
fi
"$BIN" registry list --json | grep -q '"production":"v1"' || fail "v1 is not production: $("$BIN" registry list)"
[[ -L registry/production && $(readlink registry/production) == v1 ]] || fail "registry/production does not point to v1"

# Push v1 (the production version) and the run's artifacts.
"$BIN" -q push --to s3://models/netsentry --endpoint "$EP" --artifacts "$RUN_DIR" --json >push.json ||
  fail "push failed"
grep -q '"version":"v1"' push.json || fail "push did not report v1: $(cat push.json)"
aws s3 ls --endpoint-url "$EP" s3://models/netsentry --recursive >ls.txt
for key in netsentry/v1/manifest.json netsentry/v1/version.json netsentry/v1/test.csv \
  netsentry/v1/bundle/metadata.json netsentry/v1/bundle/schema.json netsentry/v1/bundle/preprocessor.json; do
  grep -q " $key\$" ls.txt || fail "$key is not in the bucket: $(cat ls.txt)"
done
grep -q ' netsentry/artifacts/.*/manifest.json$' ls.txt || fail "run artifacts were not pushed: $(cat ls.txt)"
nfiles=$(cd registry/v1 && find . -type f | wc -l)
nobjs=$(grep -c ' netsentry/v1/' ls.txt)
[[ $nobjs -eq $((nfiles + 1)) ]] || fail "expected $nfiles files + manifest under v1, found $nobjs objects"

# Re-pushing the same version uploads nothing.
"$BIN" -q push --to s3://models/netsentry --endpoint "$EP" --json >push2.json
grep -q '"skipped":true' push2.json || fail "an unchanged re-push was not skipped: $(cat push2.json)"

# Pull into a fresh registry: same bytes, loads, becomes a candidate; promote it there.
"$BIN" -q pull --from s3://models/netsentry/v1 --endpoint "$EP" --registry fresh --json >pull.json || fail "pull failed"
grep -q '"version":"v1"' pull.json || fail "pull did not create v1: $(cat pull.json)"
diff -r registry/v1 fresh/v1 || fail "the pulled version differs from the pushed one"
"$BIN" registry list --registry fresh --verify --json >fresh.json || fail "the pulled version does not verify"
grep -q '"intact":true' fresh.json || fail "pulled version not intact: $(cat fresh.json)"
"$BIN" -q registry promote v1 --registry fresh --json >/dev/null || fail "cannot promote the pulled version"
"$BIN" -q predict --model-dir fresh/production/bundle --input data.csv --output pred.csv || fail "pulled bundle does not predict"

# A tampered object is refused and nothing is added.
printf 'tampered\n' >bad.csv
aws --endpoint-url "$EP" s3 cp bad.csv s3://models/netsentry/v1/test.csv >/dev/null
if "$BIN" -q pull --from s3://models/netsentry/v1 --endpoint "$EP" --registry tampered 2>err.txt; then
  fail "a tampered object was accepted"
fi
grep -q "does not match the manifest" err.txt || fail "unexpected error for a tampered object: $(cat err.txt)"
if compgen -G 'tampered/v*' >/dev/null; then fail "a tampered pull left a version behind"; fi

# A push that never finished (no manifest) is refused.
aws --endpoint-url "$EP" s3 rm s3://models/netsentry/v1/manifest.json >/dev/null
if "$BIN" -q pull --from s3://models/netsentry/v1 --endpoint "$EP" --registry incomplete 2>err.txt; then
  fail "a prefix without manifest was accepted"
fi
grep -q "manifest" err.txt || fail "unexpected error for a missing manifest: $(cat err.txt)"

# A full re-push repairs the prefix (different content at the same place: manifest replaced last).
"$BIN" -q push --to s3://models/netsentry --endpoint "$EP" --json >push3.json
grep -q '"skipped":false' push3.json || fail "re-push after damage did not upload: $(cat push3.json)"
"$BIN" -q pull --from s3://models/netsentry/v1 --endpoint "$EP" --registry repaired >/dev/null || fail "pull after re-push"
diff -r registry/v1 repaired/v1 || fail "repaired pull differs"

# Credentials from a profile of the shared files, none in the environment: the push says which profile
# (never the secret) and lands in the bucket.
printf '%s\n' '# the S3 stand-in' '[default]' 'aws_access_key_id = NOBODY' 'aws_secret_access_key = wrong' \
  '[s3rver]' 'aws_access_key_id = S3RVER' 'aws_secret_access_key = S3RVER' >aws-credentials
printf '%s\n' '[profile s3rver]' 'region = us-east-1' >aws-config
from_profile() {
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_REGION -u AWS_DEFAULT_REGION \
    AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials" AWS_CONFIG_FILE="$WORK/aws-config" "$@"
}
from_profile AWS_PROFILE=s3rver "$BIN" push --to s3://models/from-profile --endpoint "$EP" --json \
  >push-profile.json 2>push-profile.err || fail "push with a profile failed: $(cat push-profile.err)"
grep -q '"version":"v1"' push-profile.json || fail "push with a profile did not report v1: $(cat push-profile.json)"
grep -qF "S3 credentials from profile 's3rver' of $WORK/aws-credentials" push-profile.err ||
  fail "the push does not say where its credentials came from: $(cat push-profile.err)"
aws s3 ls --endpoint-url "$EP" s3://models/from-profile/v1/manifest.json >/dev/null ||
  fail "the push with a profile left no manifest"
# The default profile's key is unknown to S3; a profile in neither file is a usage error naming both.
if from_profile "$BIN" -q push --to s3://models/from-default --endpoint "$EP" 2>err.txt; then
  fail "the default profile's unknown key was accepted"
fi
grep -q "InvalidAccessKeyId" err.txt || fail "unexpected error for the default profile: $(cat err.txt)"
rc=0
from_profile AWS_PROFILE=missing "$BIN" -q push --to s3://models/x --endpoint "$EP" 2>err.txt || rc=$?
[[ $rc -eq 2 ]] || fail "an unknown profile exited $rc (expected 2): $(cat err.txt)"
grep -q "'missing'.*$WORK/aws-credentials.*$WORK/aws-config" err.txt || fail "unexpected error: $(cat err.txt)"

# An endpoint where nothing listens: exit 5 (unreachable), naming the endpoint, after the retries.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rc=0
"$BIN" -q push --to s3://models/none --endpoint "http://127.0.0.1:$port" 2>err.txt || rc=$?
[[ $rc -eq 5 ]] || fail "an unreachable endpoint exited $rc (expected 5): $(cat err.txt)"
grep -q "unreachable: .*127.0.0.1:$port" err.txt || fail "unexpected error for an unreachable endpoint: $(cat err.txt)"
grep -q "S3RVER" err.txt && fail "the secret appears in the error: $(cat err.txt)"

# Unknown access key: the push fails with S3's error.
if AWS_ACCESS_KEY_ID=NOBODY "$BIN" -q push --to s3://models/other --endpoint "$EP" 2>err.txt; then
  fail "an unknown access key was accepted"
fi
grep -q "InvalidAccessKeyId" err.txt || fail "unexpected error for a bad key: $(cat err.txt)"
echo "ok: push/pull through s3rver on $EP"
