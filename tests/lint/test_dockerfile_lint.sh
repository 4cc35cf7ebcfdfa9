#!/usr/bin/env bash
# deploy/Dockerfile passes dockerfilelint (npm) and its RUN instructions pass shellcheck as `sh` scripts
# (the shell form's shell; what hadolint does with them).
# Usage: test_dockerfile_lint.sh [NETSENTRY_BINARY] [SHARED_DATA_DIR] (both unused)
set -euo pipefail
# shellcheck source=tests/lint/lint_lib.sh
source "$(dirname "$0")/lint_lib.sh"
npm_tool dockerfilelint
command -v shellcheck >/dev/null || missing_tool shellcheck "scripts/install-deps.sh --test"
python3 -c 'import yaml' 2>/dev/null || missing_tool python3-yaml "scripts/install-deps.sh --test"
cd "$root"
work=$(mktemp -d "${TMPDIR:-/tmp}/netsentry-dockerfile-lint.XXXXXX")
trap 'rm -rf "$work"' EXIT
lint=$root/tests/node_modules/.bin/dockerfilelint
# The linter is alive: an apt-get install that would wait for an answer is a finding.
printf 'FROM debian:bookworm\nRUN apt-get install curl\n' >"$work/Dockerfile.bad"
if "$lint" "$work/Dockerfile.bad" >/dev/null 2>&1; then fail "dockerfilelint accepted 'apt-get install' without -y"; fi

f=deploy/Dockerfile
"$lint" "$f" >"$work/lint.out" 2>&1 || fail "dockerfilelint: $(cat "$work/lint.out")"
mapfile -t scripts < <(python3 tests/lint/run_steps.py dockerfile "$f" "$work/run")
((${#scripts[@]} >= 2)) || fail "$f: found only ${#scripts[@]} RUN instructions"
shellcheck --severity=style "${scripts[@]}" || fail "shellcheck found the problems above in $f's RUN instructions"
echo "Dockerfile lint ok"
