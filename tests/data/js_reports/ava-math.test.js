const test = require("ava");
test("adds", (t) => { t.is(1 + 2, 3); });
test("fails", (t) => { t.is(1 + 1, 3); });
test.skip("skipped", (t) => {});
test.todo("later");
