#!/usr/bin/env bash
# Soak of `netsentry serve` with hot reloads under a mixed load (a benchmark, not a CI test; its short
# version is tests/integration/test_soak.cpp).
#   1. trains two small bundles on demo data (or takes BUNDLE_A / BUNDLE_B) and makes a bad one (the
#      same bundle with its model file corrupt);
#   2. starts `netsentry serve` on a free loopback port (the project config: reload_poll_ms 1000);
#   3. drives SECONDS of mixed load with wrk (bench/soak_mix.lua: one-record JSON predictions,
#      1,000-row CSV uploads, /healthz, /metrics);
#   4. meanwhile every SWAP_EVERY seconds publishes the other valid bundle into the model directory
#      the way the registry does (written beside it, then swapped in by one renameat2 RENAME_EXCHANGE),
#      except every BAD_EVERY seconds, when it publishes the bad bundle; after each publish it waits
#      for the server to load (or refuse) it and checks the version /readyz serves;
#   5. samples the server's RSS (VmRSS in /proc/PID/status) every RSS_EVERY seconds;
#   6. prints a table and exits 1 when a check fails: a valid request that failed (non-2xx or socket
#      error), a bad bundle loaded or a valid one not, reload counters in /metrics other than the
#      publishes, or RSS in the last minute more than 10 % (and 8 MiB) over the first minute.
# Usage: bench/soak.sh [SECONDS]   (default 600)
# Environment: NETSENTRY (the binary; default build/release/netsentry), CONNECTIONS (wrk -c, 4),
# THREADS (wrk -t, 1), SWAP_EVERY (10), BAD_EVERY (60), RSS_EVERY (5), NICE (niceness of the server
# and wrk, 10: the machine may be shared), BUNDLE_A / BUNDLE_B (bundles to use instead of training),
# KEEP=1 keeps the work dir.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -ge 30 ]] || { echo "SECONDS must be a whole number >= 30" >&2; exit 2; }
netsentry=${NETSENTRY:-$root/build/release/netsentry}
[[ -x "$netsentry" ]] || { echo "netsentry binary not found: $netsentry (set NETSENTRY)" >&2; exit 2; }
connections=${CONNECTIONS:-4}
threads=${THREADS:-1}
swap_every=${SWAP_EVERY:-10}
bad_every=${BAD_EVERY:-60}
rss_every=${RSS_EVERY:-5}
niceness=${NICE:-10}
python=/usr/bin/python3
for tool in wrk curl "$python"; do command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }; done

work=$(mktemp -d "${TMPDIR:-/tmp}/netsentry-soak.XXXXXX")
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

# --- bundles -----------------------------------------------------------------------------------
train_bundle() {  # NAME SEED
  "$netsentry" -q sample-data --rows 3000 --seed "$2" --output "$work/$1.csv"
  (cd "$root" && "$netsentry" -q train --data "$work/$1.csv" --model-dir "$work/$1" \
    --artifact-dir "$work/artifacts" --registry none >"$work/train_$1.log" 2>&1) ||
    { cat "$work/train_$1.log" >&2; exit 1; }
}
if [[ -n "${BUNDLE_A:-}" && -n "${BUNDLE_B:-}" ]]; then
  cp -r "$BUNDLE_A" "$work/a"
  cp -r "$BUNDLE_B" "$work/b"
  "$netsentry" -q sample-data --rows 3000 --seed 7 --output "$work/a.csv"
else
  log "training two bundles on demo data (3,000 rows, seeds 7 and 8)"
  train_bundle a 7
  train_bundle b 8
fi
version_of() { "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$1/metadata.json"; }
va=$(version_of "$work/a")
vb=$(version_of "$work/b")
[[ "$va" != "$vb" ]] || { echo "the two bundles have the same version ($va)" >&2; exit 1; }
cp -r "$work/a" "$work/bad"
for f in "$work"/bad/model/*; do printf 'this is not a model \001\002\003' >"$f"; done
cp -r "$work/a" "$work/final_model"

# The request bodies: 1,000 rows without the target, and the first of them as one JSON record.
"$python" - "$work/a.csv" "$work/upload_1000.csv" "$work/one.json" <<'EOF'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))
keep = [i for i, name in enumerate(rows[0]) if name != "Result"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    for r in rows[:1001]:
        w.writerow([r[i] for i in keep])
record = {rows[0][i]: float(rows[1][i]) for i in keep}
json.dump({"records": [record]}, open(sys.argv[3], "w"))
EOF

# Publishes a bundle as the registry does: a full copy beside the model directory, swapped in by one
# renameat2(RENAME_EXCHANGE) (a reader sees the old bundle or the new one, never none), old one removed.
publish() {
  local staged="$work/final_model.incoming"
  rm -rf "$staged"
  cp -r "$1" "$staged"
  sync "$staged"/* 2>/dev/null || true
  "$python" - "$staged" "$work/final_model" <<'EOF'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
if libc.renameat2(AT_FDCWD, sys.argv[1].encode(), AT_FDCWD, sys.argv[2].encode(), RENAME_EXCHANGE) != 0:
    sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
EOF
  rm -rf "$staged"
}

# --- server --------------------------------------------------------------------------------------
port=$(free_port)
base=http://127.0.0.1:$port
(cd "$root" && exec nice -n "$niceness" "$netsentry" -c config/pipeline.yaml serve --model-dir "$work/final_model" \
  --port "$port" >"$work/serve.log" 2>&1) &
server=$!
pids+=("$server")
for _ in $(seq 1 600); do
  curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS -o /dev/null "$base/readyz" || { echo "the server did not become ready" >&2; exit 1; }
# The server's own pid (nice execs it in place).
spid=$server

probe_failures=0
metric() {  # NAME: an unlabelled metric's value from /metrics
  local text
  text=$(curl -fsS --max-time 10 "$base/metrics") || { probe_failures=$((probe_failures + 1)); echo -1; return; }
  awk -v n="$1" '$1 == n {print $2}' <<<"$text"
}
served_version() {
  curl -fsS --max-time 10 "$base/readyz" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["model_version"])' ||
    { probe_failures=$((probe_failures + 1)); echo "?"; }
}

# --- RSS sampler -----------------------------------------------------------------------------------
start=$(date +%s.%N)
(
  while kill -0 "$spid" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$spid/status" 2>/dev/null) || break
    awk -v t="$(date +%s.%N)" -v s="$start" -v r="$rss" 'BEGIN {printf "%.1f %s\n", t - s, r}' >>"$work/rss.txt"
    sleep "$rss_every"
  done
) &
pids+=($!)

# --- load --------------------------------------------------------------------------------------
log "soak: ${seconds} s of mixed load (wrk -t$threads -c$connections), a valid bundle every ${swap_every} s, a bad one every ${bad_every} s"
JSON_FILE=$work/one.json CSV_FILE=$work/upload_1000.csv \
  nice -n "$niceness" wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 10s \
  -s "$root/bench/soak_mix.lua" "$base" >"$work/wrk.txt" 2>&1 &
wrk_pid=$!
pids+=("$wrk_pid")

# --- swaps -------------------------------------------------------------------------------------
swaps=0 loaded=0 bads=0 refused=0 kept=0 serving=$va
ticks=$(( (seconds - 5) / swap_every ))
for ((k = 1; k <= ticks; k++)); do
  wait_s=$(awk -v s="$start" -v k="$k" -v e="$swap_every" -v t="$(date +%s.%N)" 'BEGIN {print s + k * e - t}')
  [[ "$wait_s" == -* ]] || sleep "$wait_s"
  before_ok=$(metric netsentry_model_reloads_total)
  before_bad=$(metric netsentry_model_reload_failures_total)
  if (( (k * swap_every) % bad_every == 0 )); then
    bads=$((bads + 1))
    publish "$work/bad"
    for _ in $(seq 1 100); do
      [[ "$(metric netsentry_model_reload_failures_total)" -gt "$before_bad" ]] && break
      sleep 0.1
    done
    [[ "$(metric netsentry_model_reload_failures_total)" -gt "$before_bad" ]] && refused=$((refused + 1))
    [[ "$(served_version)" == "$serving" && "$(metric netsentry_model_reloads_total)" == "$before_ok" ]] &&
      kept=$((kept + 1))
  else
    swaps=$((swaps + 1))
    if [[ "$serving" == "$va" ]]; then next=b want=$vb; else next=a want=$va; fi
    publish "$work/$next"
    for _ in $(seq 1 100); do
      [[ "$(metric netsentry_model_reloads_total)" -gt "$before_ok" ]] && break
      sleep 0.1
    done
    [[ "$(metric netsentry_model_reloads_total)" -gt "$before_ok" && "$(served_version)" == "$want" ]] &&
      loaded=$((loaded + 1))
    serving=$want
  fi
done
wait "$wrk_pid" || true

# --- results -----------------------------------------------------------------------------------
final=$(curl -fsS "$base/metrics") || { echo "no /metrics at the end" >&2; exit 1; }
kill -TERM "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
result=$(grep '^RESULT' "$work/wrk.txt" || true)
[[ -n "$result" ]] || { cat "$work/wrk.txt" >&2; echo "wrk gave no result" >&2; exit 1; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $result"; }
requests=$(field requests) rps=$(field rps) p50=$(field p50_ms) p99=$(field p99_ms) maxms=$(field max_ms)
socket_errors=$(($(field connect) + $(field read) + $(field write) + $(field timeout)))
non2xx=$(field non2xx)
reloads=$(awk '$1 == "netsentry_model_reloads_total" {print $2}' <<<"$final")
failures=$(awk '$1 == "netsentry_model_reload_failures_total" {print $2}' <<<"$final")
route_count() { awk -v r="$1" -F'[{}]' '$1 == "netsentry_http_requests_total" && index($2, "route=\"" r "\"") {split($3, v, " "); s += v[1]} END {print s + 0}' <<<"$final"; }
server_non2xx=$(awk -F'[{}]' '$1 == "netsentry_http_requests_total" && $2 !~ /code="2/ {split($3, v, " "); s += v[1]} END {print s + 0}' <<<"$final")
window=$(( seconds / 3 < 60 ? seconds / 3 : 60 ))
rss_stats() {  # FROM TO: mean and max RSS in MiB of the samples taken in [FROM, TO] seconds
  awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b {s += $2; n++; if ($2 > m) m = $2} END {if (n) printf "%.1f %.1f %d", s / n / 1024, m / 1024, n; else print "0 0 0"}' "$work/rss.txt"
}
read -r first_mean first_max first_n <<<"$(rss_stats 0 "$window")"
read -r last_mean last_max last_n <<<"$(rss_stats $((seconds - window)) $((seconds + 60)))"
read -r _ all_max all_n <<<"$(rss_stats 0 $((seconds + 60)))"
rss_ok=$(awk -v f="$first_max" -v l="$last_max" 'BEGIN {print (l <= f * 1.10 || l - f <= 8) ? 1 : 0}')

ok=1
check() { if [[ "$1" == 1 ]]; then echo "ok"; else ok=0; echo "FAILED"; fi; }
failed_valid=$((socket_errors + non2xx + probe_failures))
printf '\nnetsentry soak: %s s, wrk -t%s -c%s (niceness %s), %s\n' "$seconds" "$threads" "$connections" "$niceness" "$(nproc) cores"
printf '| measure | value | check |\n|---|---|---|\n'
printf '| valid requests (wrk) | %s (%s/s; p50 %s ms, p99 %s ms, max %s ms) | |\n' "$requests" "$rps" "$p50" "$p99" "$maxms"
printf '| by route (server) | predict %s, predict/csv (1,000 rows) %s, healthz %s, metrics %s | |\n' \
  "$(route_count /api/v1/predict)" "$(route_count /api/v1/predict/csv)" "$(route_count /healthz)" "$(route_count /metrics)"
printf '| failed valid requests | %s (non-2xx %s, socket errors %s, probes %s; server-side non-2xx %s) | %s |\n' \
  "$failed_valid" "$non2xx" "$socket_errors" "$probe_failures" "$server_non2xx" \
  "$(check $(( failed_valid == 0 && server_non2xx == 0 )))"
printf '| valid bundles published / loaded | %s / %s | %s |\n' "$swaps" "$loaded" "$(check $(( swaps == loaded )))"
printf '| bad bundles published / refused / old model kept | %s / %s / %s | %s |\n' "$bads" "$refused" "$kept" \
  "$(check $(( bads == refused && bads == kept && bads > 0 )))"
printf '| /metrics reloads_total / reload_failures_total | %s / %s (expected %s / %s) | %s |\n' "$reloads" "$failures" \
  "$((swaps + 1))" "$bads" "$(check $(( reloads == swaps + 1 && failures == bads )))"
printf '| RSS first %s s (mean / max, %s samples) | %s / %s MiB | |\n' "$window" "$first_n" "$first_mean" "$first_max"
printf '| RSS last %s s (mean / max, %s samples) | %s / %s MiB | %s |\n' "$window" "$last_n" "$last_mean" "$last_max" \
  "$(check "$rss_ok")"
printf '| RSS max over the run (%s samples) | %s MiB | |\n' "$all_n" "$all_max"
printf '| RSS max per minute | %s MiB | |\n' \
  "$(awk '{m = int($1 / 60); if ($2 > x[m]) x[m] = $2; if (m > last) last = m} END {for (i = 0; i <= last; i++) printf "%s%.1f", (i ? " " : ""), x[i] / 1024}' "$work/rss.txt")"
[[ "$ok" == 1 ]] || { echo "soak: a check failed (server log: $work/serve.log; KEEP=1 keeps it)" >&2; exit 1; }
