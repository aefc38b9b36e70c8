import { describe, it, test, before } from "node:test";
import assert from "node:assert";
describe("math", () => {
  describe("add", () => {
    it("adds", () => { assert.strictEqual(1 + 2, 3); });
    it("fails", () => { assert.strictEqual(1 + 1, 3); });
    it.skip("skipped", () => {});
    it.todo("later");
  });
});
test("top level", async (t) => {
  await t.test("sub ok", () => {});
});
describe("with hook", () => {
  before(() => { throw new Error("setup broke"); });
  it("one", () => {});
});
