#!/usr/bin/env bash
# Side by side on real intrusion data: netsentry (config/nsl-kdd.yaml: categorical features, every
# attack name a threat, its model search) against a scikit-learn / XGBoost baseline (one-hot
# encoding, RandomForest 256 trees, XGBoost 300 rounds depth 6; bench/threat_baseline.py) on the
# NSL-KDD training file, with the same stratified K folds. netsentry's search only ever sees a
# fold's training rows (its own CV runs inside them); each fold's held-out rows score both
# (`train --test-data`), so the selection is scored honestly. Prints per-fold and mean ± standard
# error of accuracy, threat-class F1, macro F1, ROC AUC and time, and the time ratios.
#
# Usage: bench/compare_threat_data.sh [DATA] [--folds K]
#   DATA defaults to ../shared/data/nsl-kdd/KDDTrain+_20Percent.txt; K to 5.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/../shared/data/nsl-kdd/KDDTrain+_20Percent.txt"
k=5
while (($#)); do
  case "$1" in
    --folds) k=$2; shift 2 ;;
    *) data=$1; shift ;;
  esac
done
bin="$root/build/release/netsentry"
[[ -x "$bin" ]] || { echo "build first: make build" >&2; exit 2; }
[[ -f "$data" ]] || { echo "data not found: $data" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 "$root/bench/threat_baseline.py" folds "$data" "$work" "$k" 42
for ((i = 0; i < k; i++)); do
  d="$work/fold$i"
  s=$(date +%s.%N)
  "$bin" -q --config "$root/config/nsl-kdd.yaml" train --json --data "$d/train.csv" --test-data "$d/test.csv" \
    --artifact-dir "$d/artifacts" --model-dir "$d/final_model" --registry none >"$d/netsentry.json"
  e=$(date +%s.%N)
  echo "$e - $s" | bc >"$d/netsentry.seconds"
  /usr/bin/python3 "$root/bench/threat_baseline.py" fit "$d/train.csv" "$d/test.csv" >"$d/baseline.json"
done

/usr/bin/python3 - "$work" "$k" <<'PY'
import json, math, sys
work, k = sys.argv[1], int(sys.argv[2])
rows = {"netsentry": [], "random_forest_256": [], "xgboost_300_d6": []}
for i in range(k):
    d = f"{work}/fold{i}"
    n = json.load(open(f"{d}/netsentry.json"))
    m = n["metrics"]
    c = n["confusion_matrix"]
    f1_benign = 2 * c["tn"] / (2 * c["tn"] + c["fn"] + c["fp"])
    rows["netsentry"].append({"accuracy": m["accuracy"], "f1": m["f1"], "macro_f1": (m["f1"] + f1_benign) / 2,
                              "roc_auc": m["roc_auc"], "seconds": float(open(f"{d}/netsentry.seconds").read()),
                              "model": n["best_model"]})
    for name, r in json.load(open(f"{d}/baseline.json")).items():
        rows[name].append(r)
def mean_se(v):
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd / math.sqrt(len(v))
print(f"NSL-KDD, {k} stratified folds (seed 42), threat = every label but normal")
print(f"{'':20s} {'accuracy':>17s} {'threat F1':>17s} {'macro F1':>17s} {'ROC AUC':>17s} {'seconds/fold':>14s}")
for name, rs in rows.items():
    cells = []
    for key in ("accuracy", "f1", "macro_f1", "roc_auc"):
        m, se = mean_se([r[key] for r in rs])
        cells.append(f"{m:.5f} ± {se:.5f}")
    t, _ = mean_se([r["seconds"] for r in rs])
    print(f"{name:20s} " + " ".join(f"{c:>17s}" for c in cells) + f" {t:14.2f}")
ns = sum(r["seconds"] for r in rows["netsentry"])
both = 0.0
for name in ("random_forest_256", "xgboost_300_d6"):
    t = sum(r["seconds"] for r in rows[name])
    both += t
    print(f"time: {name} (one fit) / netsentry (its whole search, CV and refit, the whole pipeline) = {t / ns:.2f}")
print(f"time: both baselines (what picking the better one costs) / netsentry = {both / ns:.2f}")
print("netsentry's selected models:", sorted({r["model"] for r in rows["netsentry"]}))
PY
