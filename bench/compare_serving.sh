#!/usr/bin/env bash
# Serving, side by side in one run: the reference FastAPI app (../shared/anchors/seed_app.py) and
# `netsentry serve`, each with a random forest trained on the same data.
#   1. trains both models (seed_pipeline.py --models "Random Forest", whose grid search picks the
#      forest size; netsentry train with only the random_forest family, with that size);
#   2. starts both servers on free loopback ports;
#   3. wrk -t2 -c16 -d10s, one-row JSON body, against each (reference: POST /predict_json; netsentry:
#      POST /api/v1/predict with the same row, once without and once with explanations);
#   4. a 1,000-row CSV upload (multipart field "file", POST /predict on both; netsentry's
#      /api/v1/predict/csv too), repeated, median time;
#   5. prints throughput, p50/p99 latency and the ratios.
# Usage: bench/compare_serving.sh [NETSENTRY_BINARY] [DATA.csv]
# Environment: DURATION (wrk, default 10s), REPEAT (CSV uploads, default 20), KEEP=1 keeps the work dir.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
netsentry=${1:-${NETSENTRY:-}}
if [[ -z "$netsentry" ]]; then
  for b in "$root"/build/release/netsentry "$root"/build/serve/netsentry "$root"/build/*/netsentry; do
    [[ -x "$b" ]] && { netsentry=$b; break; }
  done
fi
[[ -x "$netsentry" ]] || { echo "netsentry binary not found; pass it as the first argument" >&2; exit 2; }
netsentry=$(cd "$(dirname "$netsentry")" && pwd)/$(basename "$netsentry")
data=$(realpath "${2:-$root/../shared/data/phishing/phisingData.csv}")
anchors=$(realpath "$root/../shared/anchors")
python=/usr/bin/python3
duration=${DURATION:-10s}
repeat=${REPEAT:-20}
for tool in wrk curl "$python"; do command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }; done

work=$(mktemp -d "${TMPDIR:-/tmp}/netsentry-bench-serving.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ "${KEEP:-0}" == 1 ]]; then echo "work dir kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port" >&2
  exit 1
}

wait_http() {  # URL: waits until it answers 2xx (60 s)
  for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

# --- data: the 1,000-row upload (without the target, as the reference app expects) and one row ---
target=Result
header=$(head -1 "$data" | tr -d '\r')
tcol=$(tr ',' '\n' <<<"$header" | grep -nx "$target" | cut -d: -f1)
head -1001 "$data" | tr -d '\r' | cut -d, -f"$tcol" --complement >"$work/upload_1000.csv"
row=$(sed -n 2p "$work/upload_1000.csv")
printf '{"rows": [[%s]]}' "$row" >"$work/one_seed.json"
printf '{"rows": [[%s]], "explain": false}' "$row" >"$work/one_netsentry.json"
printf '{"rows": [[%s]]}' "$row" >"$work/one_netsentry_explain.json"

# --- train both --------------------------------------------------------------------------------
log "training the reference model (seed_pipeline.py, Random Forest grid)"
t0=$(date +%s.%N)
"$python" "$anchors/seed_pipeline.py" "$data" "$work/seed" --models "Random Forest" >"$work/seed_train.json"
t1=$(date +%s.%N)
# netsentry with the same family and grid: a copy of the project config with only random_forest.
mkdir -p "$work/ns/config"
cp -r "$root/config/schema" "$work/ns/config/"
# Equivalent models: the reference's grid search picks its forest size anew on every run (its forest
# has no fixed seed), so netsentry trains a random forest of the size the reference picked.
seed_trees=$("$python" -c 'import pickle, sys; print(pickle.load(open(sys.argv[1], "rb")).n_estimators)' \
  "$work/seed/model.pkl")
awk -v trees="$seed_trees" '
  /^  families:/ { print; print "    random_forest:"; print "      n_estimators: [" trees "]"; skip = 1; next }
  skip && /^  [^ ]/ { skip = 0 }
  skip && /^[^ #]/ { skip = 0 }
  !skip { print }
' "$root/config/pipeline.yaml" >"$work/ns/config/pipeline.yaml"
log "training the netsentry model (random_forest, $seed_trees trees as the reference picked)"
(cd "$work/ns" && "$netsentry" -q -c config/pipeline.yaml train --data "$data" --model-dir "$work/ns/final_model" \
  --artifact-dir "$work/ns/artifacts" >"$work/ns_train.log" 2>&1) || { cat "$work/ns_train.log" >&2; exit 1; }
t2=$(date +%s.%N)

# --- start both servers ------------------------------------------------------------------------
seed_port=$(free_port)
"$python" "$anchors/seed_app.py" "$work/seed" "$seed_port" >"$work/seed_app.log" 2>&1 &
pids+=($!)
ns_port=$(free_port)
while [[ "$ns_port" == "$seed_port" ]]; do ns_port=$(free_port); done
(cd "$work/ns" && exec "$netsentry" -q -c config/pipeline.yaml serve --model-dir "$work/ns/final_model" \
  --host 127.0.0.1 --port "$ns_port") >"$work/ns_serve.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$ns_port/readyz"
for _ in $(seq 1 600); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @"$work/one_seed.json" "http://127.0.0.1:$seed_port/predict_json" || true)
  [[ "$code" == 200 ]] && break
  sleep 0.1
done
[[ "$code" == 200 ]] || { echo "the reference app did not start:" >&2; cat "$work/seed_app.log" >&2; exit 1; }

# Both answer the same row the same way (class 0/1 vs label -1/1 of the same target).
seed_answer=$(curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$work/one_seed.json" \
  "http://127.0.0.1:$seed_port/predict_json")
ns_answer=$(curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$work/one_netsentry.json" \
  "http://127.0.0.1:$ns_port/api/v1/predict")
explain_answer=$(curl -s -X POST -H 'Content-Type: application/json' --data-binary @"$work/one_netsentry_explain.json" \
  "http://127.0.0.1:$ns_port/api/v1/predict")
if grep -q '"reasons"' <<<"$explain_answer"; then explain_label="  + top-3 explanations"
else explain_label="  + explain asked, omitted*"; fi
log "reference answers $seed_answer"
log "netsentry answers $(cut -c1-160 <<<"$ns_answer")"

# --- one-row JSON under wrk --------------------------------------------------------------------
steal_ticks() { awk '/^cpu / { print $9 }' /proc/stat; }  # time the host took from this VM's cores
run_wrk() {  # NAME URL BODY_FILE: one RESULT line, plus wrk's own CPU seconds and the host's steal
  log "wrk -t2 -c16 -d$duration: $1"
  local TIMEFORMAT='%U %S' s0 s1 cpu
  s0=$(steal_ticks)
  { time BODY_FILE=$3 wrk -t2 -c16 -d"$duration" -s "$root/bench/post_json.lua" "$2" >"$work/wrk_$1.txt"; } \
    2>"$work/wrk_cpu_$1.txt"
  s1=$(steal_ticks)
  cpu=$(awk '{ print $1 + $2 }' "$work/wrk_cpu_$1.txt")
  grep '^RESULT' "$work/wrk_$1.txt" | sed "s/^RESULT/$1/; s/\$/ wrk_cpu_s=$cpu steal_s=$(echo "($s1 - $s0) / $(getconf CLK_TCK)" | bc -l)/"
}
run_wrk seed "http://127.0.0.1:$seed_port/predict_json" "$work/one_seed.json" >"$work/wrk.txt"
run_wrk netsentry "http://127.0.0.1:$ns_port/api/v1/predict" "$work/one_netsentry.json" >>"$work/wrk.txt"
run_wrk netsentry_explain "http://127.0.0.1:$ns_port/api/v1/predict" "$work/one_netsentry_explain.json" >>"$work/wrk.txt"

# The machine's ceiling: the same wrk against a responder that does nothing but read each request
# and send a fixed answer of the same size (bench/http_floor.cpp, one event loop per core). No server
# can answer more requests/s than it here, with wrk on the same cores.
floor_bin=$(dirname "$netsentry")/bench/netsentry_http_floor
if [[ -x "$floor_bin" ]]; then
  floor_port=$(free_port)
  while [[ "$floor_port" == "$seed_port" || "$floor_port" == "$ns_port" ]]; do floor_port=$(free_port); done
  "$floor_bin" "$floor_port" "$(nproc)" "$(printf '%s' "$ns_answer" | wc -c)" >"$work/floor.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$floor_port/"
  run_wrk floor "http://127.0.0.1:$floor_port/api/v1/predict" "$work/one_netsentry.json" >>"$work/wrk.txt"
else
  log "no $floor_bin (built with the release build): the machine's ceiling is not measured"
fi

# --- 1,000-row CSV uploads ---------------------------------------------------------------------
upload() {  # NAME URL FIELD_OR_BODY: prints the median seconds of $repeat uploads
  local name=$1 url=$2 kind=$3 i t out
  : >"$work/times_$name.txt"
  # The first answer is kept (and checked); the timed ones go to /dev/null, so that the times are
  # the server's and the transfer's, not the client's file writes (~0.6 MB of HTML per answer).
  for i in $(seq 0 "$repeat"); do
    out=/dev/null
    [[ $i == 0 ]] && out=$work/answer_$name
    if [[ "$kind" == multipart ]]; then
      t=$(curl -s -o "$out" -w '%{http_code} %{time_total}' -F "file=@$work/upload_1000.csv;type=text/csv" "$url")
    else
      t=$(curl -s -o "$out" -w '%{http_code} %{time_total}' -H 'Content-Type: text/csv' \
        -H 'Accept: text/csv' --data-binary @"$work/upload_1000.csv" "$url")
    fi
    [[ "${t%% *}" == 200 ]] || { echo "$name upload answered ${t%% *}" >&2; head -c 300 "$work/answer_$name" >&2; exit 1; }
    [[ $i == 0 ]] || echo "${t#* }" >>"$work/times_$name.txt"
  done
  sort -g "$work/times_$name.txt" | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
log "1,000-row CSV uploads, $repeat each"
csv_seed=$(upload seed "http://127.0.0.1:$seed_port/predict" multipart)
csv_ns=$(upload netsentry "http://127.0.0.1:$ns_port/predict" multipart)
csv_ns_api=$(upload netsentry_api "http://127.0.0.1:$ns_port/api/v1/predict/csv" body)
rows_seed=$(grep -c '<tr>' "$work/answer_seed" || true)
rows_ns=$(grep -c '<tr>' "$work/answer_netsentry" || true)

# --- report ------------------------------------------------------------------------------------
field() { grep "^$1 " "$work/wrk.txt" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
echo
echo "== serving: reference app (FastAPI, seed_app.py) vs netsentry serve — one run, same machine =="
printf 'training: reference %.1f s (grid search picked a %s-tree random forest), netsentry %.1f s (the same size)\n' \
  "$(echo "$t1 - $t0" | bc -l)" "$seed_trees" "$(echo "$t2 - $t1" | bc -l)"
echo
echo "one-row JSON, wrk -t2 -c16 -d$duration:"
printf '  %-28s %12s %10s %10s %8s\n' "" "requests/s" "p50 ms" "p99 ms" "errors"
for n in seed netsentry netsentry_explain; do
  label=$n
  [[ $n == seed ]] && label="reference /predict_json"
  [[ $n == netsentry ]] && label="netsentry /api/v1/predict"
  [[ $n == netsentry_explain ]] && label=$explain_label
  printf '  %-28s %12.1f %10.3f %10.3f %8s\n' "$label" "$(field "$n" rps)" "$(field "$n" p50_ms)" "$(field "$n" p99_ms)" \
    "$(($(field "$n" errors) + $(field "$n" non2xx)))"
done
rps_ratio=$(echo "$(field netsentry rps) / $(field seed rps)" | bc -l)
p99_ratio=$(echo "$(field seed p99_ms) / $(field netsentry p99_ms)" | bc -l)
rps_ratio_x=$(echo "$(field netsentry_explain rps) / $(field seed rps)" | bc -l)
p99_ratio_x=$(echo "$(field seed p99_ms) / $(field netsentry_explain p99_ms)" | bc -l)
printf '  ratio (netsentry / reference): throughput %.0fx, p99 %.0fx lower' "$rps_ratio" "$p99_ratio"
printf '   (explain asked: %.0fx, p99 %.0fx lower)\n' "$rps_ratio_x" "$p99_ratio_x"
if grep -q '^floor ' "$work/wrk.txt"; then
  printf '  %-28s %12.1f %10.3f %10.3f %8s\n' "ceiling: do-nothing responder" "$(field floor rps)" \
    "$(field floor p50_ms)" "$(field floor p99_ms)" "$(($(field floor errors) + $(field floor non2xx)))"
  printf '  the ceiling is %.0fx the reference: 300x its throughput would be %.0f req/s; netsentry reached %.0f%% of the ceiling\n' \
    "$(echo "$(field floor rps) / $(field seed rps)" | bc -l)" "$(echo "300 * $(field seed rps)" | bc -l)" \
    "$(echo "100 * $(field netsentry rps) / $(field floor rps)" | bc -l)"
fi
printf '  wrk CPU seconds (of %s cores x %s):' "$(nproc)" "$duration"
for n in seed netsentry netsentry_explain floor; do
  grep -q "^$n " "$work/wrk.txt" && printf ' %s %.1f' "$n" "$(field "$n" wrk_cpu_s)"
done
printf '; host steal during each run (s):'
for n in seed netsentry netsentry_explain floor; do
  grep -q "^$n " "$work/wrk.txt" && printf ' %s %.2f' "$n" "$(field "$n" steal_s)"
done
echo
if [[ "$explain_label" == *omitted* ]]; then
  echo "  * this model's reasons cost more than serve.explain_budget_ms per request:"
  grep -o '"explanations":"[^"]*"' <<<"$explain_answer" | sed 's/^/    /'
fi
echo
echo "1,000-row CSV upload (median of $repeat, curl time_total):"
printf '  %-34s %10.1f ms   (%s table rows)\n' "reference POST /predict (HTML)" "$(echo "$csv_seed * 1000" | bc -l)" "$rows_seed"
printf '  %-34s %10.1f ms   (%s table rows)\n' "netsentry POST /predict (HTML)" "$(echo "$csv_ns * 1000" | bc -l)" "$rows_ns"
printf '  %-34s %10.1f ms   (CSV answer; reasons within the budget)\n' "netsentry POST /api/v1/predict/csv" "$(echo "$csv_ns_api * 1000" | bc -l)"
printf '  ratio (reference / netsentry, same route): %.0fx faster\n' "$(echo "$csv_seed / $csv_ns" | bc -l)"
echo
echo "targets: throughput >= 300x, p99 <= 1/100, CSV <= 1/50 of the reference"
