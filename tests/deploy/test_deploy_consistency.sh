#!/usr/bin/env bash
# The Dockerfile, deploy/compose.yaml, deploy/k8s/, deploy/pipeline.yaml and the CI workflow agree with
# each other and with the binary's commands and options (tests/deploy/check_deploy.py says what).
# Usage: test_deploy_consistency.sh NETSENTRY_BINARY [SHARED_DATA_DIR]
set -euo pipefail
# shellcheck source=tests/lint/lint_lib.sh
source "$(dirname "$0")/../lint/lint_lib.sh"
bin=$(readlink -f "${1:?usage: test_deploy_consistency.sh NETSENTRY_BINARY}")
python3 -c 'import yaml' 2>/dev/null || missing_tool python3-yaml "scripts/install-deps.sh --test"
python3 "$root/tests/deploy/check_deploy.py" "$root" "$bin"
