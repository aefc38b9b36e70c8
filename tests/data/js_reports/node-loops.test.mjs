import { describe, it, test } from "node:test";
import assert from "node:assert";

const cases = [[1, 2, 3], [2, 2, 4]];
const primitives = { String: "text", Number: 12.5, Date: new Date(), null: null };

describe("loops", () => {
  for (const [a, b, sum] of cases) {
    it(`adds ${a} and ${b}`, () => assert.equal(a + b, sum));
  }
  Object.keys(primitives).forEach(function (key) {
    test(key, () => {});
  });
  Object.entries({ one: 1, two: 2 }).forEach(([name, n]) => {
    it(name + " is " + n, () => {});
  });
  ["x", "y"].map((v, i) => it("item " + v, () => {}));
  describe("nested", () => {
    const words = ["alpha", "beta"];
    for (const word of words) {
      it(`${word} has ${word.length} letters`, () => {});
    }
  });
});
