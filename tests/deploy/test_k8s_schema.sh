#!/usr/bin/env bash
# Every object of deploy/k8s/ is valid against the Kubernetes API's schemas (npm's kubernetes-models,
# tests/deploy/k8s_schema.cjs); a planted error (a port given as text, a container without a name) is
# caught, so the check cannot pass by checking nothing.
# Usage: test_k8s_schema.sh [NETSENTRY_BINARY] [SHARED_DATA_DIR] (both unused)
set -euo pipefail
# shellcheck source=tests/lint/lint_lib.sh
source "$(dirname "$0")/../lint/lint_lib.sh"
npm_tool kubernetes-models
python3 -c 'import yaml' 2>/dev/null || missing_tool python3-yaml "scripts/install-deps.sh --test"
cd "$root"
work=$(mktemp -d "${TMPDIR:-/tmp}/netsentry-k8s-schema.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The objects of the manifests (kustomization.yaml is kustomize's, not an API object), as JSON.
python3 - deploy/k8s/*.yaml >"$work/objects.json" <<'PY'
import json, os, sys, yaml
items = []
for path in sys.argv[1:]:
    if os.path.basename(path) == "kustomization.yaml":
        continue
    with open(path, encoding="utf-8") as f:
        for i, doc in enumerate(yaml.safe_load_all(f)):
            if doc is not None:
                items.append({"where": f"{path}#{i}", "object": doc})
json.dump(items, sys.stdout)
PY
count=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/objects.json")
((count >= 10)) || fail "found only $count objects under deploy/k8s"

# Planted errors first.
python3 - "$work/objects.json" >"$work/bad.json" <<'PY'
import json, sys
items = json.load(open(sys.argv[1]))
dep = next(i for i in items if i["object"]["kind"] == "Deployment")
c = dep["object"]["spec"]["template"]["spec"]["containers"][0]
c["ports"][0]["containerPort"] = "8080"
del c["name"]
print(json.dumps([dep]))
PY
if node tests/deploy/k8s_schema.cjs <"$work/bad.json" >"$work/bad.out"; then
  fail "the schema check accepted a text port and a nameless container: $(cat "$work/bad.out")"
fi
grep -q 'containerPort must be integer' "$work/bad.out" || fail "unexpected message: $(cat "$work/bad.out")"

node tests/deploy/k8s_schema.cjs <"$work/objects.json" || fail "invalid Kubernetes objects (above)"
echo "Kubernetes schema: $count objects ok"
