#!/usr/bin/env bash
# Side by side on real intrusion data: netsentry (config/nsl-kdd.yaml: categorical features, every
# attack name a threat, its model search) against a scikit-learn / XGBoost baseline (one-hot
# encoding, RandomForest 256 trees, XGBoost 300 rounds depth 6; bench/threat_baseline.py) on the
# NSL-KDD training file, with the same stratified K folds. netsentry's search only ever sees a
# fold's training rows (its own CV runs inside them); each fold's held-out rows score both
# (`train --test-data`), so the selection is scored honestly. Prints per-fold and mean ± standard
# error of accuracy, threat-class F1, macro F1, ROC AUC and time, and the time ratios.
# --task categories runs the 5-category task instead (config/nsl-kdd-categories.yaml: dos, normal,
# probe, r2l, u2r; folds stratified by category; the baselines learn the five classes too): accuracy
# and macro F1 over the five, threat F1 and ROC AUC of P(threat), and the macro one-vs-rest ROC AUC.
#
# Usage: bench/compare_threat_data.sh [DATA] [--folds K] [--task binary|categories]
#   DATA defaults to ../shared/data/nsl-kdd/KDDTrain+_20Percent.txt; K to 5; the task to binary.
#   NETSENTRY_BIN names the binary (default build/release/netsentry).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/../shared/data/nsl-kdd/KDDTrain+_20Percent.txt"
k=5
task=binary
while (($#)); do
  case "$1" in
    --folds) k=$2; shift 2 ;;
    --task) task=$2; shift 2 ;;
    *) data=$1; shift ;;
  esac
done
case "$task" in
  binary) config="$root/config/nsl-kdd.yaml"; groups=() ;;
  categories) config="$root/config/nsl-kdd-categories.yaml"; groups=("$config") ;;
  *) echo "--task: binary or categories, not '$task'" >&2; exit 2 ;;
esac
bin="${NETSENTRY_BIN:-$root/build/release/netsentry}"
[[ -x "$bin" ]] || { echo "build first: make build" >&2; exit 2; }
[[ -f "$data" ]] || { echo "data not found: $data" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The benchmark measures every fold's selected model, so its copy of the config switches the
# quality gate's thresholds off: a fold whose macro F1 falls below expected_score (u2r has two or
# three held-out records per fold) is reported, not dropped. Everything else is the shipped config.
cp -r "$root/config" "$work/config"
config="$work/config/$(basename "$config")"
sed -i -e 's/^\(  expected_score:\).*/\1 0.0/' -e 's/^\(  overfitting_threshold:\).*/\1 1.0/' "$config"
grep -q '^  expected_score: 0.0' "$config" || { echo "could not relax the gate in $config" >&2; exit 2; }

/usr/bin/python3 "$root/bench/threat_baseline.py" folds "$data" "$work" "$k" 42 "${groups[@]}"
for ((i = 0; i < k; i++)); do
  d="$work/fold$i"
  s=$(date +%s.%N)
  "$bin" -q --config "$config" train --json --data "$d/train.csv" --test-data "$d/test.csv" \
    --artifact-dir "$d/artifacts" --model-dir "$d/final_model" --registry none >"$d/netsentry.json"
  e=$(date +%s.%N)
  echo "$e - $s" | bc >"$d/netsentry.seconds"
  /usr/bin/python3 "$root/bench/threat_baseline.py" fit "$d/train.csv" "$d/test.csv" "${groups[@]}" >"$d/baseline.json"
done

/usr/bin/python3 - "$work" "$k" "$task" <<'PY'
import json, math, sys
work, k, task = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keys = ("accuracy", "f1", "macro_f1", "roc_auc") + (("macro_roc_auc",) if task == "categories" else ())
rows = {"netsentry": [], "random_forest_256": [], "xgboost_300_d6": []}
for i in range(k):
    d = f"{work}/fold{i}"
    n = json.load(open(f"{d}/netsentry.json"))
    m = n["metrics"]
    r = {key: m[key] for key in keys}  # categories: netsentry's own K-class figures
    if task == "binary":  # macro F1 of threat and benign from the confusion matrix
        c = n["confusion_matrix"]
        r["macro_f1"] = (m["f1"] + 2 * c["tn"] / (2 * c["tn"] + c["fn"] + c["fp"])) / 2
    r["seconds"] = float(open(f"{d}/netsentry.seconds").read())
    r["model"] = n["best_model"]
    rows["netsentry"].append(r)
    for name, r in json.load(open(f"{d}/baseline.json")).items():
        rows[name].append(r)
for i in range(k):
    print(f"fold {i}: " + "  ".join(f"{name} " + "/".join(f"{rs[i][key]:.4f}" for key in keys)
                                   for name, rs in rows.items()) + f"  ({rows['netsentry'][i]['model']})")
def mean_se(v):
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
    return m, sd / math.sqrt(len(v))
if task == "binary":
    print(f"NSL-KDD, {k} stratified folds (seed 42), threat = every label but normal")
else:
    print(f"NSL-KDD, 5 categories, {k} folds stratified by category (seed 42); threat = every class but normal")
heads = {"accuracy": "accuracy", "f1": "threat F1", "macro_f1": "macro F1", "roc_auc": "threat ROC AUC",
         "macro_roc_auc": "macro ROC AUC"}
print(f"{'':20s} " + " ".join(f"{heads[key]:>17s}" for key in keys) + f" {'seconds/fold':>14s}")
for name, rs in rows.items():
    cells = []
    for key in keys:
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
