const add = (a, b) => a + b;
describe("math", () => {
  describe("add", () => {
    it("adds", () => { expect(add(1, 2)).toBe(3); });
    it.each([[1, 1, 2], [2, 2, 5]])("adds %i + %i", (a, b, c) => { expect(add(a, b)).toBe(c); });
    test.each([{ a: 1, b: "x" }])("obj $a $b", ({ a }) => { expect(a).toBe(1); });
    it.skip("skipped", () => {});
    test.todo("later");
  });
  it("fails", () => { expect(add(1, 1)).toBe(3); });
});
test(`top level`, () => {});
