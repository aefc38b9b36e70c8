import { describe, test, it, expect } from "vitest";
class Calc {}
function helper() {}
describe(Calc.name, () => {
  test.each`
    a      | b      | expected
    ${1}   | ${1}   | ${2}
    ${"x"} | ${"y"} | ${"xy"}
    ${-1}  | ${2.5} | ${1.5}
  `("returns $expected when $a is added to $b", ({ a, b, expected }) => {
    expect(a + b).toBe(expected);
  });
  describe.each`
    n
    ${1}
    ${true}
  `("block $n", ({ n }) => { it("inner", () => {}); });
  it(helper.name + " works", () => {});
});
