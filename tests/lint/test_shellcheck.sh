#!/usr/bin/env bash
# Every shell script of the project passes shellcheck (Debian's package): scripts/, bench/, tests/,
# deploy/ and .ci/run. A finding is fixed, or disabled on its line with the reason beside it.
# Usage: test_shellcheck.sh [NETSENTRY_BINARY] [SHARED_DATA_DIR] (both unused)
set -euo pipefail
# shellcheck source=tests/lint/lint_lib.sh
source "$(dirname "$0")/lint_lib.sh"
command -v shellcheck >/dev/null || missing_tool shellcheck "scripts/install-deps.sh --test"
cd "$root"
mapfile -t files < <(find scripts bench tests deploy -name node_modules -prune -o -name '*.sh' -type f -print | sort)
files+=(.ci/run)
((${#files[@]} > 10)) || fail "found only ${#files[@]} scripts: is this the project root?"
shellcheck --external-sources --severity=style "${files[@]}" || fail "shellcheck found the problems above"
echo "shellcheck: ${#files[@]} scripts ok"
