#!/usr/bin/env bash
# Browser test of the web UI: Debian's chromium driven by playwright-core (tests/e2e/browser_ui.mjs).
# Trains a small model, starts `netsentry serve` on a free loopback port, uploads a CSV in the
# page, checks the table and verdicts, and saves screenshots into <build dir>/e2e-screenshots/.
# Usage: test_browser.sh NETSENTRY_BINARY SHARED_DATA_DIR
set -euo pipefail
bin=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
shots=$(dirname "$bin")/e2e-screenshots

if [[ ! -x /usr/bin/chromium ]]; then echo "SKIP: /usr/bin/chromium is not installed"; exit 0; fi
bash "$root/scripts/install-npm-tools.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/netsentry-e2e.XXXXXX")
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A model that explains its verdicts: the project config with only the gradient_boosting family.
mkdir -p "$work/config"
cp -r "$root/config/schema" "$work/config/"
awk '
  /^  families:/ { print; print "    gradient_boosting:"; print "      n_estimators: [32, 64]"; skip = 1; next }
  skip && /^  [^ ]/ { skip = 0 }
  skip && /^[^ #]/ { skip = 0 }
  !skip { print }
' "$root/config/pipeline.yaml" |
  # The page must show reasons: no explanation budget (a sanitizer build explains far slower).
  sed 's/^\(  explain_budget_ms:\) *[0-9]*/\1 600000/' >"$work/config/pipeline.yaml"
cd "$work"
"$bin" -q sample-data --rows 2000 --seed 11 --output "$work/sample.csv"
"$bin" -q -c config/pipeline.yaml train --data "$work/sample.csv" --model-dir "$work/final_model" \
  --artifact-dir "$work/artifacts" >/dev/null
# The upload: 40 rows with the target column (the page shows it next to the verdict).
head -41 "$work/sample.csv" >"$work/upload.csv"

NETSENTRY_API_TOKEN=e2e-token "$bin" -c config/pipeline.yaml serve --model-dir "$work/final_model" --host 127.0.0.1 --port 0 \
  >"$work/serve.log" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 300); do
  port=$(grep -o 'serving on http://127.0.0.1:[0-9]*' "$work/serve.log" | grep -o '[0-9]*$' || true)
  [[ -n "$port" ]] && break
  sleep 0.1
done
[[ -n "$port" ]] || { cat "$work/serve.log"; exit 1; }

NODE_PATH="$root/tests/node_modules" node "$root/tests/e2e/browser_ui.mjs" "http://127.0.0.1:$port" \
  "$work/upload.csv" "$shots"
