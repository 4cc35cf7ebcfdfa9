#!/usr/bin/env bash
# Installs the npm tools the tests use (playwright-core for the browser test, s3rver as a local S3, the
# linters of the workflow, the Dockerfile and the Kubernetes manifests: tests/lint, tests/deploy)
# into tests/node_modules, from tests/package.json. Does nothing when they are already there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here/tests"
[[ -f package.json ]] || exit 0
if [[ ! -d node_modules ]] || [[ package.json -nt node_modules ]]; then
  npm install --no-audit --no-fund --loglevel=error >&2
  touch node_modules
fi
