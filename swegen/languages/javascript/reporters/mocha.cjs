// swegen's reporter for mocha: a JSON file of every test with its file and title path (mocha's
// own json reporter joins the titles with spaces, which cannot be split back), and hook failures
// as errors of the tests they stopped. One JSON line per run, appended to $SWEGEN_REPORT (a run
// per file after a load error adds its own); a short summary goes to stdout.
"use strict";
const fs = require("fs");
const Mocha = require(require.resolve("mocha", { paths: [process.cwd()] }));
const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_RUN_END } = Mocha.Runner.constants;

function SwegenReporter(runner, options) {
  Mocha.reporters.Base.call(this, runner, options);
  const results = [];
  const out = process.env.SWEGEN_REPORT || "swegen-mocha.json";
  const record = (test, status) =>
    results.push({ file: test.file || (test.parent && test.parent.file) || "", path: test.titlePath(), status });
  runner.on(EVENT_TEST_PASS, (test) => record(test, "passed"));
  runner.on(EVENT_TEST_PENDING, (test) => record(test, "pending"));
  runner.on(EVENT_TEST_FAIL, (test, err) => {
    if (test.type !== "hook") return record(test, "failed");
    // A failed hook stops the tests of its suite: each is an error (those already run keep theirs).
    const done = new Set(results.map((r) => r.file + "\u0000" + r.path.join("\u0000")));
    const suite = test.parent;
    const each = (s) => { s.tests.forEach((t) => { const key = (t.file || s.file || "") + "\u0000" + t.titlePath().join("\u0000"); if (!done.has(key)) results.push({ file: t.file || s.file || "", path: t.titlePath(), status: "error" }); }); s.suites.forEach(each); };
    if (suite) each(suite);
  });
  runner.once(EVENT_RUN_END, () => {
    fs.appendFileSync(out, JSON.stringify({ reporter: "swegen-mocha", results }) + "\n");
    const s = runner.stats || {};
    process.stdout.write(`passing ${s.passes || 0}, failing ${s.failures || 0}, pending ${s.pending || 0}\n`);
  });
}
module.exports = SwegenReporter;
