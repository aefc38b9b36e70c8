const test = require("tape");
test("adds", (t) => { t.equal(1 + 2, 3); t.end(); });
test("fails", (t) => { t.equal(1 + 1, 3, "one and one"); t.end(); });
test("skipped", { skip: true }, (t) => { t.end(); });
test("outer", (t) => { t.test("inner", (st) => { st.ok(true); st.end(); }); t.end(); });
