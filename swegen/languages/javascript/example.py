"""A small JavaScript example repository with a known history, for trying swegen on JS.

`create_js_example(dest)` writes `tinyfmt`, an ES module library tested with node:test (no
dependencies, so no install needs the network): real bugs fixed with tests (one through a
merged pull request), features that plant those bugs, docs, chores and a refactor as noise.
`MANIFEST` says what each commit is and what swegen should make of it, like
swegen/example/manifest.json does for the Python example. Dates and authors are fixed, so the
commit ids are the same on every machine.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from swegen.errors import BadInput, GitError

ANA = ("Ana Lima", "ana@example.com")
TOMAS = ("Tomas Berg", "tomas@example.com")

PACKAGE_JSON = """{
  "name": "tinyfmt",
  "version": "0.1.0",
  "description": "Small text formatting helpers",
  "type": "module",
  "main": "src/index.js",
  "scripts": {
    "test": "node --test test/"
  },
  "engines": {
    "node": ">=18"
  }
}
"""

SLUG = """/** A URL slug: lower case, ASCII letters and digits, words joined by one dash. */
export function slugify(text) {
  return text
    .toLowerCase()
    .trim()
    .replace(/[^a-z0-9]/g, "-")
    .replace(/^-+|-+$/g, "");
}
"""

SLUG_TEST = """import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { slugify } from "../src/slug.js";

describe("slugify", () => {
  it("lower-cases words", () => {
    assert.equal(slugify("Hello World"), "hello-world");
  });

  it("trims separators at the ends", () => {
    assert.equal(slugify("  hi! "), "hi");
  });
});
"""

DURATION = """const UNITS = { h: 3600000, m: 60000, s: 1000, ms: 1 };

/** Milliseconds in a duration like "1h30m" or "45s". */
export function parseDuration(text) {
  const parts = text.match(/^(\\d+(?:ms|h|m|s))+$/) ? text.match(/\\d+(?:ms|h|m|s)/g) : null;
  if (parts === null) {
    throw new Error(`not a duration: ${text}`);
  }
  let total = 0;
  for (const part of parts) {
    const [, amount, unit] = part.match(/^(\\d+)(ms|h|m|s)$/);
    total += Number(amount) * UNITS[unit];
  }
  return total;
}

/** A duration in milliseconds written as "1h 30m 5s" (zero parts left out). */
export function formatDuration(ms) {
  const hours = Math.floor(ms / UNITS.h);
  const minutes = Math.floor((ms % UNITS.h) / UNITS.m);
  const seconds = Math.round((ms % UNITS.m) / UNITS.s);
  const out = [];
  if (hours) out.push(`${hours}h`);
  if (minutes) out.push(`${minutes}m`);
  if (seconds) out.push(`${seconds}s`);
  return out.join(" ");
}
"""

DURATION_TEST = """import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseDuration, formatDuration } from "../src/duration.js";

describe("parseDuration", () => {
  it("reads hours and minutes", () => {
    assert.equal(parseDuration("1h30m"), 5400000);
  });

  it("rejects garbage", () => {
    assert.throws(() => parseDuration("soon"));
  });
});

describe("formatDuration", () => {
  it("writes each unit", () => {
    assert.equal(formatDuration(3725000), "1h 2m 5s");
  });
});
"""

TRUNCATE = """/** `text` cut to at most `width` characters, ending with an ellipsis when cut. */
export function truncate(text, width) {
  if (text.length <= width) {
    return text;
  }
  return text.slice(0, width) + "\\u2026";
}
"""

TRUNCATE_TEST = """import { test } from "node:test";
import assert from "node:assert/strict";
import { truncate } from "../src/truncate.js";

test("short text is kept", () => {
  assert.equal(truncate("abc", 5), "abc");
});

test("long text is cut", () => {
  assert.equal(truncate("abcdef", 4).startsWith("abc"), true);
});
"""

INDEX_1 = 'export { slugify } from "./slug.js";\n'
INDEX_2 = INDEX_1 + 'export { parseDuration, formatDuration } from "./duration.js";\n'
INDEX_3 = INDEX_2 + 'export { truncate } from "./truncate.js";\n'


@dataclass(frozen=True)
class Step:
    """One commit: full file contents (None deletes) and (path, old, new) edits."""

    id: str
    subject: str
    author: tuple[str, str]
    files: dict[str, str | None] = field(default_factory=dict)
    edits: tuple[tuple[str, str, str], ...] = ()
    #: A pull request branch this commit sits on, merged into main right after it.
    branch: str | None = None


STEPS = (
    Step("initial-skeleton", "Initial commit: package skeleton", ANA,
         {"package.json": PACKAGE_JSON, "README.md": "# tinyfmt\n\nSmall text formatting helpers.\n",
          ".gitignore": "node_modules/\ncoverage/\n", "src/index.js": "export {};\n"}),
    Step("add-slugify", "Add slugify", ANA, {"src/slug.js": SLUG, "test/slug.test.js": SLUG_TEST, "src/index.js": INDEX_1}),
    Step("add-duration", "Add parseDuration and formatDuration", TOMAS,
         {"src/duration.js": DURATION, "test/duration.test.js": DURATION_TEST, "src/index.js": INDEX_2}),
    Step("docs-readme-usage", "Document usage in the README", ANA,
         edits=(("README.md", "Small text formatting helpers.\n", "Small text formatting helpers.\n\n```js\nimport { slugify } from \"tinyfmt\";\nslugify(\"Hello World\"); // \"hello-world\"\n```\n"),)),
    Step("fix-slug-repeated-dashes", "Collapse repeated separators in slugify", TOMAS,
         edits=(("src/slug.js", '.replace(/[^a-z0-9]/g, "-")', '.replace(/[^a-z0-9]+/g, "-")'),
                ("test/slug.test.js", '  it("trims separators at the ends"',
                 '  it("collapses repeated separators", () => {\n    assert.equal(slugify("a  --  b"), "a-b");\n  });\n\n  it("trims separators at the ends"'))),
    Step("chore-editorconfig", "Add an .editorconfig", ANA, {".editorconfig": "root = true\n\n[*]\nindent_style = space\nindent_size = 2\n"}),
    Step("fix-duration-spaces", "Accept spaces between the parts of a duration", ANA,
         edits=(("src/duration.js", "export function parseDuration(text) {\n", "export function parseDuration(text) {\n  text = text.replace(/\\s+/g, \"\");\n"),
                ("test/duration.test.js", '  it("rejects garbage"',
                 '  it("accepts spaces between parts", () => {\n    assert.equal(parseDuration("1h 30m"), 5400000);\n  });\n\n  it("rejects garbage"')),
         branch="ana/duration-spaces"),
    Step("refactor-duration-units", "Name the unit table's entries in one place", TOMAS,
         edits=(("src/duration.js", "const UNITS = { h: 3600000, m: 60000, s: 1000, ms: 1 };", "const SECOND = 1000;\nconst UNITS = { h: 3600 * SECOND, m: 60 * SECOND, s: SECOND, ms: 1 };"),)),
    Step("add-truncate", "Add truncate", ANA, {"src/truncate.js": TRUNCATE, "test/truncate.test.js": TRUNCATE_TEST, "src/index.js": INDEX_3}),
    Step("tests-slug-digits", "Test that slugify keeps digits", TOMAS,
         edits=(("test/slug.test.js", '  it("trims separators at the ends"', '  it("keeps digits", () => {\n    assert.equal(slugify("Route 66"), "route-66");\n  });\n\n  it("trims separators at the ends"'),)),
    Step("fix-truncate-width", "Count the ellipsis in truncate's width", TOMAS,
         edits=(("src/truncate.js", 'return text.slice(0, width) + "\\u2026";', 'return text.slice(0, Math.max(width - 1, 0)) + "\\u2026";'),
                ("test/truncate.test.js", 'test("long text is cut", () => {\n  assert.equal(truncate("abcdef", 4).startsWith("abc"), true);\n});\n',
                 'test("long text is cut", () => {\n  assert.equal(truncate("abcdef", 4).startsWith("abc"), true);\n});\n\n'
                 'test("the ellipsis counts in the width", () => {\n  assert.equal(truncate("abcdef", 4), "abc\\u2026");\n  assert.equal(truncate("abcdef", 4).length, 4);\n});\n'))),
    Step("fix-format-duration-zero", "Fix formatDuration(0) returning an empty string instead of 0s", ANA,
         edits=(("src/duration.js", '  return out.join(" ");', '  return out.length ? out.join(" ") : "0s";'),
                ("test/duration.test.js", '    assert.equal(formatDuration(3725000), "1h 2m 5s");\n  });\n',
                 '    assert.equal(formatDuration(3725000), "1h 2m 5s");\n  });\n\n  it("writes zero as 0s", () => {\n    assert.equal(formatDuration(0), "0s");\n  });\n'))),
    Step("release-0-2-0", "Release 0.2.0", ANA, edits=(("package.json", '"version": "0.1.0"', '"version": "0.2.0"'),)),
)

MANIFEST = {
    "repo": "swegen-example/tinyfmt",
    "default_branch": "main",
    "commit_count": len(STEPS) + sum(1 for s in STEPS if s.branch),
    "project": {"language": "javascript", "manager": "npm", "runner": "node:test", "test_command": "node --test test/"},
    "notes": [
        "changes lists every step oldest first, by subject; a step with merged_as sits on a pull request branch merged into main by a merge commit with that subject right after it.",
        "Test ids are swegen's JS ids: path > describe > name.",
        "expected: task, or reject:<first reason> as in the Python example (no-tests, no-source, feature, no-fail-to-pass).",
    ],
    "changes": [
        {"id": "initial-skeleton", "expected": "reject:no-tests"},
        {"id": "add-slugify", "expected": "reject:feature", "note": "plants the repeated-dash bug in slugify"},
        {"id": "add-duration", "expected": "reject:feature", "note": "plants parseDuration failing on spaces and formatDuration(0) giving ''"},
        {"id": "docs-readme-usage", "expected": "reject:no-tests"},
        {"id": "fix-slug-repeated-dashes", "expected": "task", "fail_to_pass": ["test/slug.test.js > slugify > collapses repeated separators"]},
        {"id": "chore-editorconfig", "expected": "reject:no-tests"},
        {"id": "fix-duration-spaces", "expected": "task", "merged_as": "Merge pull request #2 from ana/duration-spaces",
         "fail_to_pass": ["test/duration.test.js > parseDuration > accepts spaces between parts"]},
        {"id": "refactor-duration-units", "expected": "reject:no-tests"},
        {"id": "add-truncate", "expected": "reject:feature", "note": "plants the ellipsis overflowing truncate's width"},
        {"id": "tests-slug-digits", "expected": "reject:no-source"},
        {"id": "fix-truncate-width", "expected": "task", "fail_to_pass": ["test/truncate.test.js > the ellipsis counts in the width"]},
        {"id": "fix-format-duration-zero", "expected": "task", "fail_to_pass": ["test/duration.test.js > formatDuration > writes zero as 0s"]},
        {"id": "release-0-2-0", "expected": "reject:no-tests"},
    ],
}


def _subject_of(step: Step) -> str:
    return step.subject


def _env(author: tuple[str, str], tick: int) -> dict[str, str]:
    date = f"2024-05-{1 + tick // 24:02d}T{tick % 24:02d}:00:00+00:00"
    name, email = author
    return {**os.environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
            "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}


def _git(dest: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(["git", "-C", str(dest), "-c", "commit.gpgsign=false", *args], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise GitError(f"git {args[0]} failed while building an example repository", hint="is git installed?", detail=result.stderr.strip())
    return result.stdout.strip()


def _apply(dest: Path, step: Step) -> None:
    for path, text in step.files.items():
        target = dest / path
        if text is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for path, old, new in step.edits:
        target = dest / path
        text = target.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise AssertionError(f"example step {step.id}: {old!r} is not once in {path}")  # a builder bug, not bad input
        target.write_text(text.replace(old, new), encoding="utf-8")


def create_js_example(dest: Path) -> dict[str, str]:
    """Build the repository in `dest` (which must not exist or be empty); the commit id of each
    step by its id (a merged step's own commit; its merge is under "<id>:merge")."""
    return build(dest, STEPS, "JS")


def build(dest: Path, steps: tuple[Step, ...], kind: str) -> dict[str, str]:
    """The repository of `steps` in `dest` (new or empty), each step a commit on main, a step with
    a branch on that branch merged into main right after it; the commit ids by step id."""
    if dest.exists() and any(dest.iterdir()):
        raise BadInput(f"{dest} is not empty", hint="give a new folder for the example repository")
    dest.mkdir(parents=True, exist_ok=True)
    ids: dict[str, str] = {}
    tick = 0
    _git(dest, _env(ANA, tick), "init", "-q", "-b", "main")
    pr = 1
    for step in steps:
        tick += 1
        env = _env(step.author, tick)
        if step.branch:
            _git(dest, env, "checkout", "-q", "-b", step.branch)
        _apply(dest, step)
        _git(dest, env, "add", "-A")
        _git(dest, env, "commit", "-q", "-m", step.subject)
        ids[step.id] = _git(dest, env, "rev-parse", "HEAD")
        if step.branch:
            pr += 1
            tick += 1
            merge_env = _env(TOMAS, tick)
            _git(dest, merge_env, "checkout", "-q", "main")
            _git(dest, merge_env, "merge", "-q", "--no-ff", "-m", f"Merge pull request #{pr} from {step.branch}", step.branch)
            ids[step.id + ":merge"] = _git(dest, merge_env, "rev-parse", "HEAD")
    return ids
