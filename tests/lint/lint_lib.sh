# Sourced by the lint and deployment tests: the project root, failing, and tools that may be missing.
# shellcheck shell=bash
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# A tool the test needs is missing: under CI=true (or NETSENTRY_REQUIRE_TOOLS=1) the test fails,
# elsewhere it is skipped (exit 77, which CTest reports as skipped, never as passed).
missing_tool() {
  if [[ ${CI:-} == true || ${NETSENTRY_REQUIRE_TOOLS:-} == 1 ]]; then
    fail "$1 is not installed (required under CI=true): $2"
  fi
  echo "SKIP: $1 is not installed: $2"
  exit 77
}
# The npm tools of tests/package.json, installed when missing (scripts/install-npm-tools.sh).
npm_tool() {
  local path=$root/tests/node_modules/$1
  if [[ ! -e $path ]] && command -v npm >/dev/null; then bash "$root/scripts/install-npm-tools.sh" || true; fi
  [[ -e $path ]] || missing_tool "$1 (npm)" "bash scripts/install-npm-tools.sh"
  command -v node >/dev/null || missing_tool node "apt-get install nodejs npm"
}
