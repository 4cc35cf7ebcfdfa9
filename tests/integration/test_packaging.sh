#!/usr/bin/env bash
# The Dockerfile installs the same Debian packages as scripts/install-deps.sh (one list, read by
# both), the CI workflow runs the README's test command, and .ci/run calls it too.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "FAIL: $*" >&2; exit 1; }
grep -q 'COPY scripts/apt-packages.txt' deploy/Dockerfile || fail "Dockerfile does not read scripts/apt-packages.txt"
grep -q "grep -v '^\\\\s\*#' /tmp/apt-packages.txt" deploy/Dockerfile || fail "Dockerfile does not install the list"
grep -q 'apt-packages.txt' scripts/install-deps.sh || fail "install-deps.sh does not read the list"
for p in $(grep -v '^\s*#' scripts/apt-packages.txt); do
  apt-cache show "$p" >/dev/null 2>&1 || fail "package '$p' in scripts/apt-packages.txt is unknown to apt"
done
grep -qx 'make test' .ci/run || fail ".ci/run does not run 'make test'"
grep -q 'run: make test' .github/workflows/ci.yml || fail "the CI workflow does not run 'make test'"
grep -q '^make test' README.md || fail "README does not give 'make test'"
echo "packaging checks ok"
