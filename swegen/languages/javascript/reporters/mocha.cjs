// swegen's reporter for mocha: every test with its file and title path (mocha's own json
// reporter joins the titles with spaces, which cannot be split back), and hook failures as
// errors of the tests they stopped. One JSON line per run, appended to $SWEGEN_REPORT (a run
// per file after a load error adds its own); a short summary and each failure go to stdout.
// It needs nothing of mocha's (no require): any mocha that loads it, from anywhere, works.
"use strict";
const fs = require("fs");

// Runnable#titlePath is mocha >= 4's; before, the same from the parent chain.
function titlePath(test) {
  if (typeof test.titlePath === "function") return test.titlePath();
  const path = [];
  for (let node = test; node && !node.root; node = node.parent) if (node.title) path.unshift(node.title);
  return path;
}

function SwegenReporter(runner) {
  const results = [];
  const out = process.env.SWEGEN_REPORT || "swegen-mocha.json";
  const counts = { passed: 0, failed: 0, pending: 0, error: 0 };
  const key = (file, path) => file + "\u0000" + path.join("\u0000");
  const record = (test, file, status) => {
    counts[status] += 1;
    results.push({ file: file || test.file || (test.parent && test.parent.file) || "", path: titlePath(test), status });
  };
  runner.on("pass", (test) => record(test, null, "passed"));
  runner.on("pending", (test) => record(test, null, "pending"));
  runner.on("fail", (test, err) => {
    process.stdout.write(`failed: ${test.fullTitle()}: ${err && err.message ? String(err.message).split("\n")[0] : err}\n`);
    if (test.type !== "hook") return record(test, null, "failed");
    // A failed hook stops the tests of its suite: each is an error (those already run keep theirs).
    const done = new Set(results.map((r) => key(r.file, r.path)));
    const each = (suite) => {
      suite.tests.forEach((t) => {
        const file = t.file || suite.file || "";
        if (!done.has(key(file, titlePath(t)))) record(t, file, "error");
      });
      suite.suites.forEach(each);
    };
    if (test.parent) each(test.parent);
  });
  runner.once("end", () => {
    fs.appendFileSync(out, JSON.stringify({ reporter: "swegen-mocha", results }) + "\n");
    process.stdout.write(`passing ${counts.passed}, failing ${counts.failed}, pending ${counts.pending}, errors ${counts.error}\n`);
  });
}
module.exports = SwegenReporter;
