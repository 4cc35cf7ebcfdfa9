#!/usr/bin/env bash
# Runs the libFuzzer targets of the fuzz build (build/fuzz) for SECONDS each, on their committed seed
# corpora (tests/fuzz/corpus/TARGET, read only) plus a working corpus of what they find
# (build/fuzz/corpus/TARGET), as many at once as there are cores. Prints a table of executions and
# findings per target and exits 1 when any target found anything (the input is kept in
# build/fuzz/findings/, the report in build/fuzz/logs/TARGET.log).
#
#   tests/fuzz/run.sh SECONDS [TARGET...]      (make fuzz; make test runs each for a short time)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$root/build/fuzz"
seconds=${1:?usage: run.sh SECONDS [TARGET...]}
shift
if (($#)); then targets=("$@"); else
  mapfile -t targets < <(find "$here" -maxdepth 1 -name 'fuzz_*.cpp' -printf '%f\n' | sed 's/\.cpp$//' | sort)
fi
for t in "${targets[@]}"; do
  [[ -x "$build/tests/fuzz/$t" ]] || { echo "run.sh: $build/tests/fuzz/$t is not built (make fuzz builds it)" >&2; exit 2; }
done
# The previous run's findings are kept aside, not overwritten.
if [[ -d "$build/findings" ]] && [[ -n "$(ls -A "$build/findings")" ]]; then
  rm -rf "$build/findings.previous" && mv "$build/findings" "$build/findings.previous"
fi
mkdir -p "$build/logs" "$build/findings"

# shellcheck disable=SC2317  # called through xargs
run_one() {
  local t=$1 rc=0
  mkdir -p "$build/corpus/$t"
  local dict=()
  [[ -f "$here/dict/$t.dict" ]] && dict=(-dict="$here/dict/$t.dict")
  # Leaks are checked (a finding); -timeout: one input running over 10 s is a finding (a hang).
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/tests/fuzz/$t" "$build/corpus/$t" "$here/corpus/$t" "${dict[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$build/findings/$t-" >"$build/logs/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$build/logs/$t.rc"
}
export -f run_one
export build here seconds
printf '%s\n' "${targets[@]}" | xargs -P "$(nproc)" -I{} bash -c 'run_one {}'

status=0
printf '%-22s %12s %10s %10s  %s\n' target executions "exec/s" "new units" findings
for t in "${targets[@]}"; do
  log="$build/logs/$t.log"
  execs=$(awk '/stat::number_of_executed_units/{print $2}' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/{print $2}' "$log" | tail -1)
  units=$(awk '/stat::new_units_added/{print $2}' "$log" | tail -1)
  found=$(find "$build/findings" -name "$t-*" | wc -l)
  rc=$(cat "$build/logs/$t.rc")
  what="none"
  if [[ $rc != 0 || $found != 0 ]]; then
    status=1
    what="$found input(s) in build/fuzz/findings/ ($(grep -a -m1 -oE 'ERROR: [A-Za-z]+: [a-z-]+|fuzz property broken: .*|deadly signal|timeout|out-of-memory' "$log" || echo "exit $rc"))"
  fi
  printf '%-22s %12s %10s %10s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${units:-?}" "$what"
done
exit $status
