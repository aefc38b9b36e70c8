const assert = require("assert");
describe("math", function () {
  context("add", function () {
    it("adds", function () { assert.strictEqual(1 + 2, 3); });
    it("fails", function () { assert.strictEqual(1 + 1, 3); });
    it.skip("skipped", function () {});
    it("pending without body");
  });
});
describe("with hook", function () {
  before(function () { throw new Error("setup broke"); });
  it("one", function () {});
  describe("inner", function () { it("two", function () {}); });
});
it("top level", function () {});
