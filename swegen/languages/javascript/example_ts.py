"""A small TypeScript example repository with a known history, for trying swegen on TypeScript.

`create_ts_example(dest)` writes `tinyunits`, TypeScript helpers tested with node:test on the
`.ts` files themselves: Node 22 (pinned by `.nvmrc`, installed from the npm registry's `node`
package) strips the types, so nothing is compiled and no dependency needs installing. The code
keeps to TypeScript that only needs erasing (annotations, interfaces, generics, `import type`),
as `tsconfig.json` says (`erasableSyntaxOnly`; type-checking would need @types/node, which is
left out so that the example has no dependency at all). Like the JavaScript example: real bugs fixed with
tests (one through a merged pull request), features that plant them, and noise; `MANIFEST` says
what each commit must become. Dates and authors are fixed, so commit ids are the same everywhere.
"""

from __future__ import annotations

from pathlib import Path

from swegen.languages.javascript.example import ANA, TOMAS, Step, build

PACKAGE_JSON = """{
  "name": "tinyunits",
  "version": "0.1.0",
  "description": "Sizes, chunks and ranges, typed",
  "type": "module",
  "main": "src/index.ts",
  "scripts": {
    "test": "node --test 'test/**/*.test.ts'"
  },
  "engines": {
    "node": ">=22.18"
  }
}
"""

TSCONFIG = """{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "noEmit": true,
    "allowImportingTsExtensions": true,
    "erasableSyntaxOnly": true
  },
  "include": ["src", "test"]
}
"""

SIZE = """export type Unit = "B" | "KB" | "MB" | "GB";

const FACTORS: Record<Unit, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/** Bytes in a size like "10KB" or "1.5GB". */
export function parseSize(text: string): number {
  const match = /^(\\d+(?:\\.\\d+)?)\\s*(B|KB|MB|GB)$/.exec(text.trim());
  if (match === null) {
    throw new Error(`not a size: ${text}`);
  }
  return Math.round(Number(match[1]) * FACTORS[match[2] as Unit]);
}

/** A byte count in the largest unit that keeps it at least 1 ("1.5 KB"). */
export function formatSize(bytes: number): string {
  const units: Unit[] = ["GB", "MB", "KB"];
  for (const unit of units) {
    if (bytes >= FACTORS[unit]) {
      return `${Number((bytes / FACTORS[unit]).toFixed(1))} ${unit}`;
    }
  }
  return `${bytes} B`;
}
"""

SIZE_TEST = """import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseSize, formatSize } from "../src/size.ts";

describe("parseSize", () => {
  it("reads whole and fractional sizes", () => {
    assert.equal(parseSize("10KB"), 10240);
    assert.equal(parseSize("1.5 MB"), 1572864);
  });

  it("rejects garbage", () => {
    assert.throws(() => parseSize("big"));
  });
});

describe("formatSize", () => {
  it("picks the largest unit", () => {
    assert.equal(formatSize(1536), "1.5 KB");
  });
});
"""

CHUNK = """/** `items` in consecutive groups of `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`chunk size must be a positive integer, not ${size}`);
  }
  const groups: T[][] = [];
  for (let start = 0; start + size <= items.length; start += size) {
    groups.push(items.slice(start, start + size));
  }
  return groups;
}
"""

CHUNK_TEST = """import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chunk } from "../src/chunk.ts";

describe("chunk", () => {
  it("splits into groups", () => {
    assert.deepEqual(chunk([1, 2, 3, 4], 2), [[1, 2], [3, 4]]);
  });

  it("refuses a size of zero", () => {
    assert.throws(() => chunk([1], 0), RangeError);
  });
});
"""

RANGE = """export interface Range {
  readonly low: number;
  readonly high: number;
}

/** `value` kept within `range` (its ends included). */
export function clamp(value: number, range: Range): number {
  return Math.min(Math.max(value, range.low), range.high);
}

/** Whether `value` lies within `range`. */
export function within(value: number, range: Range): boolean {
  return value >= range.low && value < range.high;
}
"""

RANGE_TEST = """import { test } from "node:test";
import assert from "node:assert/strict";
import { clamp, within } from "../src/range.ts";
import type { Range } from "../src/range.ts";

const percent: Range = { low: 0, high: 100 };

test("clamp keeps values inside", () => {
  assert.equal(clamp(150, percent), 100);
  assert.equal(clamp(-3, percent), 0);
});

test("within is true inside", () => {
  assert.equal(within(50, percent), true);
});
"""

INDEX_1 = 'export { parseSize, formatSize } from "./size.ts";\nexport type { Unit } from "./size.ts";\n'
INDEX_2 = INDEX_1 + 'export { chunk } from "./chunk.ts";\n'
INDEX_3 = INDEX_2 + 'export { clamp, within } from "./range.ts";\nexport type { Range } from "./range.ts";\n'

STEPS = (
    Step("initial-skeleton", "Initial commit: package skeleton", ANA,
         {"package.json": PACKAGE_JSON, "tsconfig.json": TSCONFIG, ".nvmrc": "22\n",
          "README.md": "# tinyunits\n\nSizes, chunks and ranges, typed.\n", ".gitignore": "node_modules/\n",
          "src/index.ts": "export {};\n"}),
    Step("add-size", "Add parseSize and formatSize", ANA, {"src/size.ts": SIZE, "test/size.test.ts": SIZE_TEST, "src/index.ts": INDEX_1}),
    Step("add-chunk", "Add chunk", TOMAS, {"src/chunk.ts": CHUNK, "test/chunk.test.ts": CHUNK_TEST, "src/index.ts": INDEX_2}),
    Step("docs-readme-usage", "Document usage in the README", ANA,
         edits=(("README.md", "Sizes, chunks and ranges, typed.\n",
                 "Sizes, chunks and ranges, typed.\n\n```ts\nimport { parseSize } from \"tinyunits\";\nparseSize(\"10KB\"); // 10240\n```\n"),)),
    Step("fix-chunk-remainder", "Fix chunk dropping the last, shorter group", TOMAS,
         edits=(("src/chunk.ts", "start + size <= items.length", "start < items.length"),
                ("test/chunk.test.ts", '  it("refuses a size of zero"',
                 '  it("keeps the last, shorter group", () => {\n    assert.deepEqual(chunk([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);\n  });\n\n'
                 '  it("refuses a size of zero"'))),
    Step("chore-strict-tsconfig", "Check unused locals in tsconfig", ANA,
         edits=(("tsconfig.json", '    "strict": true,\n', '    "strict": true,\n    "noUnusedLocals": true,\n'),)),
    Step("fix-size-lowercase-units", "Accept lower-case units in parseSize", ANA,
         edits=(("src/size.ts", "(B|KB|MB|GB)$/.exec", "(B|KB|MB|GB)$/i.exec"),
                ("src/size.ts", "FACTORS[match[2] as Unit]", "FACTORS[match[2].toUpperCase() as Unit]"),
                ("test/size.test.ts", '  it("rejects garbage"',
                 '  it("accepts lower-case units", () => {\n    assert.equal(parseSize("2kb"), 2048);\n  });\n\n  it("rejects garbage"')),
         branch="ana/size-lowercase"),
    Step("refactor-size-factors", "Derive the size factors from one base", TOMAS,
         edits=(("src/size.ts", "const FACTORS: Record<Unit, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };",
                 "const BASE = 1024;\nconst FACTORS: Record<Unit, number> = { B: 1, KB: BASE, MB: BASE ** 2, GB: BASE ** 3 };"),)),
    Step("add-range", "Add clamp and within", ANA, {"src/range.ts": RANGE, "test/range.test.ts": RANGE_TEST, "src/index.ts": INDEX_3}),
    Step("tests-chunk-exact", "Test chunk on an exact multiple", TOMAS,
         edits=(("test/chunk.test.ts", '  it("refuses a size of zero"',
                 '  it("splits an exact multiple evenly", () => {\n    assert.deepEqual(chunk(["a", "b", "c"], 3), [["a", "b", "c"]]);\n  });\n\n'
                 '  it("refuses a size of zero"'),)),
    Step("fix-within-high-end", "Fix within leaving out the high end of a range", TOMAS,
         edits=(("src/range.ts", "value >= range.low && value < range.high", "value >= range.low && value <= range.high"),
                ("test/range.test.ts", 'test("within is true inside", () => {\n  assert.equal(within(50, percent), true);\n});\n',
                 'test("within is true inside", () => {\n  assert.equal(within(50, percent), true);\n});\n\n'
                 'test("within includes both ends", () => {\n  assert.equal(within(0, percent), true);\n  assert.equal(within(100, percent), true);\n});\n'))),
    Step("release-0-2-0", "Release 0.2.0", ANA, edits=(("package.json", '"version": "0.1.0"', '"version": "0.2.0"'),)),
)

MANIFEST = {
    "repo": "swegen-example/tinyunits",
    "default_branch": "main",
    "commit_count": len(STEPS) + sum(1 for s in STEPS if s.branch),
    "project": {"language": "typescript", "manager": "npm", "runner": "node:test", "node": "22 (.nvmrc; types stripped by node)",
                "test_command": "node --test 'test/**/*.test.ts'"},
    "notes": [
        "changes lists every step oldest first, by subject; a step with merged_as sits on a pull request branch merged into main by a merge commit with that subject right after it.",
        "Test ids are swegen's JS ids: path > describe > name.",
        "expected: task, or reject:<first reason> as in the Python example (no-tests, no-source, feature, no-fail-to-pass).",
    ],
    "changes": [
        {"id": "initial-skeleton", "expected": "reject:no-tests"},
        {"id": "add-size", "expected": "reject:feature", "note": "plants parseSize refusing lower-case units"},
        {"id": "add-chunk", "expected": "reject:feature", "note": "plants chunk dropping the last, shorter group"},
        {"id": "docs-readme-usage", "expected": "reject:no-tests"},
        {"id": "fix-chunk-remainder", "expected": "task", "fail_to_pass": ["test/chunk.test.ts > chunk > keeps the last, shorter group"]},
        {"id": "chore-strict-tsconfig", "expected": "reject:no-tests"},
        {"id": "fix-size-lowercase-units", "expected": "task", "merged_as": "Merge pull request #2 from ana/size-lowercase",
         "fail_to_pass": ["test/size.test.ts > parseSize > accepts lower-case units"]},
        {"id": "refactor-size-factors", "expected": "reject:no-tests"},
        {"id": "add-range", "expected": "reject:feature", "note": "plants within leaving out the high end"},
        {"id": "tests-chunk-exact", "expected": "reject:no-source"},
        {"id": "fix-within-high-end", "expected": "task", "fail_to_pass": ["test/range.test.ts > within includes both ends"]},
        {"id": "release-0-2-0", "expected": "reject:no-tests"},
    ],
}


def create_ts_example(dest: Path) -> dict[str, str]:
    """Build the repository in `dest` (which must not exist or be empty); the commit id of each
    step by its id (a merged step's own commit; its merge is under "<id>:merge")."""
    return build(dest, STEPS, "TypeScript")
