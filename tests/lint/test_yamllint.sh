#!/usr/bin/env bash
# Every YAML file of the project (configuration, schemas, the CI workflow, compose, Kubernetes) passes
# Debian's yamllint with the project's settings (.yamllint), warnings included.
# Usage: test_yamllint.sh [NETSENTRY_BINARY] [SHARED_DATA_DIR] (both unused)
set -euo pipefail
# shellcheck source=tests/lint/lint_lib.sh
source "$(dirname "$0")/lint_lib.sh"
command -v yamllint >/dev/null || missing_tool yamllint "scripts/install-deps.sh --test"
cd "$root"
# The linter is alive: a key given twice and a tab are findings.
printf 'a: 1\na: 2\nb:\n\t- x\n' >"${TMPDIR:-/tmp}/netsentry-yamllint-$$.yaml"
if yamllint -c .yamllint "${TMPDIR:-/tmp}/netsentry-yamllint-$$.yaml" >/dev/null 2>&1; then
  rm -f "${TMPDIR:-/tmp}/netsentry-yamllint-$$.yaml"
  fail "yamllint accepted a file with a duplicated key"
fi
rm -f "${TMPDIR:-/tmp}/netsentry-yamllint-$$.yaml"
mapfile -t files < <(find . \( -path ./build -o -name node_modules -o -path ./.git \) -prune -o \
  \( -name '*.yaml' -o -name '*.yml' -o -name .yamllint \) -type f -print | sort)
((${#files[@]} >= 15)) || fail "found only ${#files[@]} YAML files: is this the project root?"
yamllint --strict -c .yamllint "${files[@]}" || fail "yamllint found the problems above"
echo "yamllint: ${#files[@]} files ok"
