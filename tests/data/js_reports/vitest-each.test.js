import { describe, test } from "vitest";
test.each([["a", 1, 1.5, {k: 1}, [1, "b"], null, true]])("s=%s p=%p d=%d i=%i j=%j o=%o #%# %% %s %s %s %s", () => {});
test.each([{ a: "x", n: 2, o: { k: 1 }, l: [1, "b"], z: null }])("a=$a n=$n o=$o l=$l z=$z #$#", () => {});
test.each(["solo", "two"])("single %s", () => {});
describe.each([[1], [2]])("block %i", (n) => { test("inner", () => {}); });
