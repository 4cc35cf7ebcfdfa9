#!/usr/bin/env bash
# Side-by-side: netsentry's whole training pipeline vs the reference pipeline (anchor), same data,
# same machine, one after the other. netsentry runs three times — successive halving (the default
# config), the exhaustive grid, and halving on the duplicate-aware split — then the reference.
# Prints each time, the ratios and the test metrics.
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
# Variants of the same config: the exhaustive grid, and halving on the duplicate-aware split.
mkdir -p "$work/config"
cp -r "$(dirname "$config")/schema" "$work/config/" 2>/dev/null || true
sed -E 's/^(  search:) *[a-z_]+/\1 grid/' "$config" >"$work/config/grid.yaml"
sed -E 's/^(  split:) *[a-z_]+/\1 duplicate_aware/' "$config" >"$work/config/dedup.yaml"
grep -q '^  search: grid' "$work/config/grid.yaml" || { echo "could not set model_trainer.search in $config" >&2; exit 2; }
grep -q '^  split: duplicate_aware' "$work/config/dedup.yaml" || { echo "could not set ingestion.split in $config" >&2; exit 2; }

run_ns() {  # NAME CONFIG: one netsentry train, its JSON summary and wall time in $work/NAME.*
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" -q --config "$2" train --json --data "$data" --artifact-dir "$work/$1-artifacts" \
    --model-dir "$work/$1-model" --registry "$work/$1-registry" >"$work/$1.json"
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l >"$work/$1.seconds"
}
# Halving (the default) runs right before the reference, so both see the same machine state.
run_ns grid "$work/config/grid.yaml"
run_ns dedup "$work/config/dedup.yaml"
run_ns halving "$config"
t1=$(date +%s.%N)
anchor_args=(--jobs "$anchor_jobs")
[[ -n "$anchor_models" ]] && anchor_args+=(--models "$anchor_models")
/usr/bin/python3 "$anchor" "$data" "$work/anchor" "${anchor_args[@]}" >"$work/anchor.json"
t2=$(date +%s.%N)
echo "$t2 - $t1" | bc -l >"$work/anchor.seconds"

/usr/bin/python3 - "$work" <<'PY'
import json, sys, os
w = sys.argv[1]
load = lambda n: (json.load(open(os.path.join(w, n + ".json"))), float(open(os.path.join(w, n + ".seconds")).read()))
an, an_s = load("anchor")
rows = [("netsentry halving", *load("halving")), ("netsentry grid", *load("grid")),
        ("netsentry halving, dedup split", *load("dedup"))]
print(f"{'':32}{'wall s':>9}{'vs ref':>9}{'accuracy':>10}{'f1':>8}{'roc_auc':>9}{'cands':>7}  best")
for name, ns, s in rows:
    m = ns["metrics"]
    print(f"{name:32}{s:9.2f}{an_s / s:8.1f}x{m['accuracy']:10.4f}{m['f1']:8.4f}{m['roc_auc']:9.4f}"
          f"{len(ns.get('candidates', [])):7d}  {ns['best_model']} {json.dumps(ns.get('params', {}))}")
m = an["metrics"]
print(f"{'reference (seed_pipeline.py)':32}{an_s:9.2f}{'1.0':>8}x{m['accuracy']:10.4f}{m['f1']:8.4f}{m['roc_auc']:9.4f}"
      f"{'':7}  {m['model']}")
ns, ns_s = load("halving")
print(f"speed ratio (reference / netsentry halving): {an_s / ns_s:.1f}x")
print(f"accuracy difference (netsentry halving - reference): {ns['metrics']['accuracy'] - m['accuracy']:+.4f}")
print("JSON " + json.dumps({"netsentry_seconds": ns_s, "reference_seconds": an_s, "ratio": an_s / ns_s,
      "netsentry_accuracy": ns['metrics']['accuracy'], "reference_accuracy": m['accuracy'],
      "netsentry_best": ns['best_model'], "reference_best": m['model'],
      "grid_seconds": load("grid")[1], "grid_accuracy": load("grid")[0]['metrics']['accuracy'],
      "dedup_seconds": load("dedup")[1], "dedup_accuracy": load("dedup")[0]['metrics']['accuracy']}))
PY
