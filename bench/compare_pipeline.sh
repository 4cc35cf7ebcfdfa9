#!/usr/bin/env bash
# Side-by-side: netsentry's whole training pipeline vs the reference pipeline (anchor), same data,
# same machine, one after the other. Prints both times, the ratio and both test accuracies.
#
# Usage: bench/compare_pipeline.sh [DATA.csv] [--config CFG] [--anchor-jobs N] [--anchor-models "A,B"]
#   DATA defaults to ../shared/data/phishing/phisingData.csv. The netsentry binary is build/release/netsentry.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/../shared/data/phishing/phisingData.csv"
config="$root/config/pipeline.yaml"
anchor_jobs=1
anchor_models=""
while (($#)); do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --anchor-jobs) anchor_jobs=$2; shift 2 ;;
    --anchor-models) anchor_models=$2; shift 2 ;;
    *) data=$1; shift ;;
  esac
done
bin="$root/build/release/netsentry"
anchor="$root/../shared/anchors/seed_pipeline.py"
[[ -x "$bin" ]] || { echo "build first: make build" >&2; exit 2; }
[[ -f "$data" ]] || { echo "data not found: $data" >&2; exit 2; }
[[ -f "$anchor" ]] || { echo "anchor not found: $anchor" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "data: $data"
echo "netsentry config: $config"
t0=$(date +%s.%N)
"$bin" -q --config "$config" train --json --data "$data" --artifact-dir "$work/ns-artifacts" \
  --model-dir "$work/ns-model" --registry "$work/ns-registry" >"$work/ns.json"
t1=$(date +%s.%N)
anchor_args=(--jobs "$anchor_jobs")
[[ -n "$anchor_models" ]] && anchor_args+=(--models "$anchor_models")
/usr/bin/python3 "$anchor" "$data" "$work/anchor" "${anchor_args[@]}" >"$work/anchor.json"
t2=$(date +%s.%N)

/usr/bin/python3 - "$work/ns.json" "$work/anchor.json" "$t0" "$t1" "$t2" <<'PY'
import json, sys
ns = json.load(open(sys.argv[1])); an = json.load(open(sys.argv[2]))
t0, t1, t2 = map(float, sys.argv[3:6])
ns_s, an_s = t1 - t0, t2 - t1
print(f"{'':22}{'netsentry':>14}{'reference':>14}")
print(f"{'wall time (s)':22}{ns_s:14.2f}{an_s:14.2f}")
for k in ("accuracy", "f1", "roc_auc"):
    print(f"{'test ' + k:22}{ns['metrics'][k]:14.4f}{an['metrics'][k]:14.4f}")
print(f"{'best model':22}{ns['best_model']:>14}{an['metrics']['model']:>14}")
print(f"{'candidates searched':22}{len(ns.get('candidates', [])):14d}")
print(f"speed ratio (reference / netsentry): {an_s / ns_s:.1f}x")
print(f"accuracy difference (netsentry - reference): {ns['metrics']['accuracy'] - an['metrics']['accuracy']:+.4f}")
print("JSON " + json.dumps({"netsentry_seconds": ns_s, "reference_seconds": an_s, "ratio": an_s / ns_s,
      "netsentry_accuracy": ns['metrics']['accuracy'], "reference_accuracy": an['metrics']['accuracy'],
      "netsentry_best": ns['best_model'], "reference_best": an['metrics']['model']}))
PY
