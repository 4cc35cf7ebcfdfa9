// Validates Kubernetes objects against the Kubernetes API's JSON schemas (npm's kubernetes-models:
// types, required fields, enumerations; installed in tests/node_modules, no network at run time).
//   node k8s_schema.cjs < objects.json   with [{"where": "deploy/k8s/x.yaml#0", "object": {...}}, ...]
// prints one line per object and exits 1 when one is invalid or of a kind the package does not know.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const models = path.join(__dirname, "../node_modules/kubernetes-models");
const items = JSON.parse(fs.readFileSync(0, "utf8"));
let bad = 0;
for (const { where, object } of items) {
  const { apiVersion, kind } = object;
  const file = path.join(models, String(apiVersion), `${kind}.js`);
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !fs.existsSync(file)) {
    console.log(`${where}: unknown apiVersion/kind ${apiVersion}/${kind}`);
    bad++;
    continue;
  }
  const Model = require(file)[kind];
  try {
    new Model(object).validate();
    console.log(`${where}: ${apiVersion} ${kind} ${object.metadata?.name ?? object.metadata?.generateName} ok`);
  } catch (e) {
    console.log(`${where}: ${apiVersion} ${kind}: ${e.message}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
