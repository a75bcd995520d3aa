#!/usr/bin/env node
// Bundle bpmn-js-bpmnlint with bpmnlint's recommended rules into one browser file (IIFE,
// global `LotseBpmnlint`). Run by scripts/vendor_assets.py (`make assets`); esbuild is a
// pinned devDependency, nothing is fetched.
//
//   node scripts/bundle_lint.mjs OUTFILE
//
// The packed config is what `bpmnlint-pack-config` writes: `{ config, resolver }` where the
// resolver serves the rules of `bpmnlint/config/recommended` (read from the installed,
// pinned bpmnlint, so a new pin brings its rule list along). The global offers
//   LotseBpmnlint.lintModule   - the bpmn-js module (additionalModules)
//   LotseBpmnlint.bpmnlint     - { config, resolver } for `linting: { bpmnlint: ... }`
//   LotseBpmnlint.rules        - the rule names with their severity
import { createRequire } from "node:module";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(root, "package.json"));

const outfile = process.argv[2];
if (!outfile) {
  console.error("usage: node scripts/bundle_lint.mjs OUTFILE");
  process.exit(2);
}

let esbuild;
try {
  esbuild = require("esbuild");
} catch (err) {
  console.error("bundle_lint: esbuild missing - run `npm ci` (or `make assets`): " + err.message);
  process.exit(1);
}

const recommended = require("bpmnlint/config/recommended");
const ruleNames = Object.keys(recommended.rules).sort();
if (!ruleNames.length) {
  console.error("bundle_lint: bpmnlint/config/recommended lists no rules");
  process.exit(1);
}
for (const name of ruleNames) {
  if (!/^[a-z0-9-]+$/.test(name)) {
    console.error("bundle_lint: unexpected rule name " + JSON.stringify(name));
    process.exit(1);
  }
}

const lines = [
  'import lintModule from "bpmn-js-bpmnlint";',
  ...ruleNames.map((name, i) => `import rule_${i} from "bpmnlint/rules/${name}";`),
  "const cache = {};",
  ...ruleNames.map((name, i) => `cache[${JSON.stringify("bpmnlint/" + name)}] = rule_${i};`),
  "function Resolver() {}",
  "Resolver.prototype.resolveRule = function (pkg, ruleName) {",
  '  const rule = cache[pkg + "/" + ruleName];',
  '  if (!rule) { throw new Error("cannot resolve rule <" + pkg + "/" + ruleName + ">"); }',
  "  return rule;",
  "};",
  "Resolver.prototype.resolveConfig = function (pkg, configName) {",
  '  throw new Error("cannot resolve config <" + configName + "> in <" + pkg + ">");',
  "};",
  `const rules = ${JSON.stringify(recommended.rules, ruleNames, 2)};`,
  "window.LotseBpmnlint = {",
  "  lintModule: lintModule,",
  "  bpmnlint: { config: { rules: rules }, resolver: new Resolver() },",
  "  rules: rules",
  "};",
];

await esbuild.build({
  stdin: {
    contents: lines.join("\n") + "\n",
    resolveDir: root,
    sourcefile: "lotse-bpmnlint-entry.js",
    loader: "js",
  },
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["es2019"],
  minify: true,
  legalComments: "eof",
  define: { "process.env.NODE_ENV": '"production"' },
  outfile,
  logLevel: "warning",
});
console.log(`bundle_lint: ${ruleNames.length} recommended rules -> ${path.relative(root, outfile)}`);
