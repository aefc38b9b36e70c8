"""The JavaScript/TypeScript language package: file roles, tree-sitter tests and touched tests,
report parsers (on real reports of jest 29.7, vitest 1.6, mocha 10.8 and node:test on Node 20,
kept in tests/data/js_reports/ with their checkout path rewritten to /testbed), test commands,
environment plans on real git repositories, canaries and doctor."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from swegen.languages import by_name, for_path
from swegen.languages.base import ERROR, FAILED, PASSED, SKIPPED, Language, Plan
from swegen.languages.javascript import LANGUAGE, commands, plan as planning, reports, roles, syntax

DATA = Path(__file__).parent / "data" / "js_reports"
JS = LANGUAGE


def ids(path: str, source: str) -> list[str]:
    return [t.test_id for t in JS.tests_in(path, source.encode())]


# ---------------------------------------------------------------------------------------------
# File roles


def test_bound_language_and_the_files_of_test_ids(tmp_path):
    assert JS.at(tmp_path, "HEAD") is JS
    got = JS.test_files_for(["test/a.test.js > d > x", "test/a.test.js > y", "src/b.spec.ts > z", "README.md > q"], ["test/a.test.js"])
    assert got == ["test/a.test.js", "src/b.spec.ts"]


def test_registered_and_implements_the_protocol():
    assert by_name("javascript") is JS
    assert isinstance(JS, Language)
    assert for_path("src/index.ts") is JS


@pytest.mark.parametrize("path", ["src/a.js", "src/a.jsx", "lib/a.mjs", "a.cjs", "src/a.ts", "src/A.tsx", "a.mts", "a.cts", "src/types.d.ts"])
def test_sources_are_owned(path):
    assert JS.owns(path) and roles.is_source(path)


@pytest.mark.parametrize("path", [
    "src/__tests__/a.js", "src/a.test.ts", "a.spec.jsx", "test/a.js", "packages/x/tests/util.mjs",
    "src/__snapshots__/a.test.js.snap", "test/fixtures/input.json", "src/__fixtures__/x.ts", "spec/a.js",
])
def test_tests_and_their_data(path):
    assert roles.is_test(path)


@pytest.mark.parametrize("path", [
    "node_modules/x/index.js", "packages/a/node_modules/b/i.js", "dist/index.js", "build/a.js", "coverage/lcov.js",
    "package-lock.json", "yarn.lock", "packages/a/pnpm-lock.yaml", "vendor/jquery.min.js", "lib/index.d.ts",
])
def test_excluded(path):
    assert roles.is_excluded(path) and not roles.is_source(path) and not roles.is_test(path)


@pytest.mark.parametrize("path,role", [
    ("dist/index.js", "other"), ("node_modules/a/i.js", "other"), ("vendor/x.min.js", "other"), ("coverage/x.js", "other"),
    ("lib/index.d.ts", "other"), ("packages/a/build/b.mjs", "other"), ("src/a.ts", "source"), ("test/a.test.js", "test"),
    ("src/__snapshots__/a.test.js.snap", "test"), ("src/__tests__/helpers.ts", "test"),
])
def test_the_split_sorts_js_files_by_these_roles(path, role):
    """swegen.split asks the owning language for its excludes: built and vendored JS is left out."""
    from swegen.split import SplitRules

    assert SplitRules().role(path) == role


@pytest.mark.parametrize("path", ["README.md", "setup.py", "src/main.go", "package.json", "src/styles.css", "yarn.lock"])
def test_not_javascript(path):
    assert not JS.owns(path)


def test_globs_match_at_any_depth_and_at_the_root():
    assert roles.matches("__tests__/a.js", ("**/__tests__/**",))
    assert roles.matches("a/b/__tests__/c/d.js", ("**/__tests__/**",))
    assert not roles.matches("a/not__tests__/d.js", ("**/__tests__/**",))
    assert not roles.matches("src/contest/a.js", ("**/test/**",))


# ---------------------------------------------------------------------------------------------
# Tests found by tree-sitter

NESTED = '''import { thing } from "../src/thing";
const rows = [[1, 2]];
describe("outer", () => {
  let value;
  beforeEach(() => {
    value = thing();
  });
  context('inner', function () {
    it("works", () => {
      expect(value).toBe(1);
    });
    it.only("focused", () => {});
    specify.skip("skipped", () => {});
  });
  test.each(rows)("row %i", (a) => {});
  test("plain", async () => {
    expect(rows.length).toBe(1);
  });
});
suite("tdd", () => { test("one", () => {}); });
it(`template`, () => {});
'''


def test_tests_in_gives_nested_ids_and_spans():
    found = JS.tests_in("test/a.test.js", NESTED.encode())
    assert [(t.test_id, t.start_line, t.end_line) for t in found] == [
        ("test/a.test.js > outer > inner > works", 9, 11),
        ("test/a.test.js > outer > inner > focused", 12, 12),
        ("test/a.test.js > outer > inner > skipped", 13, 13),
        ("test/a.test.js > outer > row %i", 15, 15),  # a table held in a variable: as written
        ("test/a.test.js > outer > plain", 16, 18),
        ("test/a.test.js > tdd > one", 20, 20),
        ("test/a.test.js > template", 21, 21),
    ]


def test_typescript_and_tsx_parse():
    ts = 'describe("typed", () => {\n  it("casts", () => {\n    const x = <number>(1 as unknown);\n    expect(x!).toBe(1);\n  });\n});\n'
    assert ids("src/a.test.ts", ts) == ["src/a.test.ts > typed > casts"]
    tsx = 'import { render } from "r";\ntest("renders", () => {\n  const el: JSX.Element = <App title="x" />;\n  render(el);\n});\n'
    assert ids("src/App.test.tsx", tsx) == ["src/App.test.tsx > renders"]


def test_node_test_subtests_and_describe():
    src = 'import { test, describe, it } from "node:test";\ntest("top", async (t) => {\n  await t.test("sub", () => {});\n});\ndescribe("d", () => { it("i", () => {}); });\n'
    assert ids("t.test.mjs", src) == ["t.test.mjs > top", "t.test.mjs > top > sub", "t.test.mjs > d > i"]


def test_tests_made_in_loops_over_known_tables_for_real(tmp_path):
    """for-of, forEach and map over literal tables, Object.keys/entries of literal objects (keys
    known though a value is not), names built with templates and +: tests_in names them as node
    itself does when it runs them."""
    if shutil.which("node") is None:
        pytest.skip("no node on this host")
    src = (DATA / "node-loops.test.mjs").read_text()
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "loops.test.mjs").write_text(src)
    command = JS.test_command(a_plan("node:test"), ["test/loops.test.mjs"]).command
    command = command.replace("/testbed", str(tmp_path)).replace(commands.REPORT_DIR, str(tmp_path / "r"))
    subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, timeout=120)
    got = reports.parse((tmp_path / "r" / "report").read_text(), "", root=str(tmp_path))
    assert len(got) == 12 and set(got.values()) == {PASSED}
    assert sorted(t.test_id for t in JS.tests_in("test/loops.test.mjs", src.encode())) == sorted(got)


LOOPS = 'const cases = [[1, 2], [3, 4]];\ndescribe("d", () => {\n  cases.forEach(([a, b]) => {\n    it(`adds ${a}`, () => {\n      check(a, b);\n    });\n  });\n  it("other", () => {});\n});\n'


@pytest.mark.parametrize("old,new,expected", [
    ("[3, 4]]", "[3, 5]]", ["a.test.js > d > adds 1", "a.test.js > d > adds 3"]),  # the table
    ("check(a, b);", "check(b, a);", ["a.test.js > d > adds 1", "a.test.js > d > adds 3"]),  # the loop's test body
    ('it("other", () => {});', 'it("other", () => { x(); });', ["a.test.js > d > other"]),
])
def test_touched_tests_made_in_loops(old, new, expected):
    a, b = edit(LOOPS, old, new)
    assert JS.touched_tests("a.test.js", a, b) == expected


def test_a_loop_over_an_unknown_table_gives_no_guessed_names():
    src = 'describe("d", () => {\n  load().forEach((c) => {\n    it(`case ${c.name}`, () => {});\n  });\n  it("plain", () => {});\n});\n'
    assert ids("a.test.js", src) == ["a.test.js > d > plain"]


def test_calls_that_are_not_tests_are_left_out():
    src = 'const test = (x) => x;\nfoo.test("x", () => {});\nexpect(it).toBe(1);\ndescribe(name);\nit("real", () => { helper.it("no", () => {}); });\n'
    assert ids("a.test.js", src) == ["a.test.js > real"]


def test_broken_code_still_gives_its_tests():
    # tree-sitter's recovery may lose the unclosed describe around it; the test itself is still found.
    found = ids("a.test.js", 'describe("d", () => {\n  it("ok", () => {});\n  it("broken", () => { if ( });\n')
    assert any(t.endswith(" > ok") for t in found)


@pytest.mark.parametrize("runner", ["jest", "vitest"])
@pytest.mark.parametrize("kind", ["each", "tagged"])
def test_each_names_match_the_runner_exactly(runner, kind):
    """Every name the real runner gave the rows of `.each` tables (arrays of rows; tagged
    templates; `describe(Class.name)`) is the one tests_in gives."""
    source = (DATA / f"{runner}-{kind}.test.js").read_bytes()
    report = json.loads((DATA / f"{runner}-{kind}.json").read_text())
    reported = [" > ".join(["x"] + [t for t in a["ancestorTitles"] if t] + [a["title"]])
                for r in report["testResults"] for a in r["assertionResults"]]
    assert sorted(t.test_id for t in JS.tests_in("x", source)) == sorted(reported)


@pytest.mark.parametrize("runner,path,report", [
    ("jest", "__tests__/math.test.js", "jest.json"),
    ("vitest", "test/math.test.js", "vitest.json"),
    ("mocha", "test/math.test.js", "mocha.jsonl"),
    ("node", "test/math.test.mjs", "node-test.jsonl"),
])
def test_tests_in_ids_are_the_parsers_ids(runner, path, report):
    """The same test file, run by the real runner: tests_in and parse name the same tests."""
    source = (DATA / f"{runner}-math.test.{'mjs' if runner == 'node' else 'js'}").read_bytes()
    parsed = {k for k in JS.parse((DATA / report).read_text(), "") if k.startswith(path + " > ")}
    assert {t.test_id for t in JS.tests_in(path, source)} == parsed


# ---------------------------------------------------------------------------------------------
# Touched tests


def edit(source: str, old: str, new: str) -> tuple[bytes, bytes]:
    assert old in source
    return source.encode(), source.replace(old, new, 1).encode()


def test_a_change_inside_a_test_touches_only_it():
    old, new = edit(NESTED, "expect(value).toBe(1);", "expect(value).toBe(2);")
    assert JS.touched_tests("a.test.js", old, new) == ["a.test.js > outer > inner > works"]


def test_an_added_test_is_touched():
    old, new = edit(NESTED, '  test("plain"', '  it("new one", () => {\n    expect(1).toBe(1);\n  });\n  test("plain"')
    assert JS.touched_tests("a.test.js", old, new) == ["a.test.js > outer > new one"]


def test_a_hook_change_touches_every_test_of_its_describe():
    old, new = edit(NESTED, "value = thing();", "value = thing() + 1;")
    assert JS.touched_tests("a.test.js", old, new) == [
        "a.test.js > outer > inner > works", "a.test.js > outer > inner > focused", "a.test.js > outer > inner > skipped",
        "a.test.js > outer > row %i", "a.test.js > outer > plain",
    ]


def test_a_table_change_touches_the_tests_that_use_it():
    old, new = edit(NESTED, "const rows = [[1, 2]];", "const rows = [[1, 2], [3, 4]];")
    assert JS.touched_tests("a.test.js", old, new) == ["a.test.js > outer > row %i", "a.test.js > outer > plain"]


def test_an_import_change_reaches_tests_through_the_hook_that_uses_it():
    old, new = edit(NESTED, 'import { thing } from "../src/thing";', 'import { thing } from "../src/thing2";')
    touched = JS.touched_tests("a.test.js", old, new)
    assert "a.test.js > outer > inner > works" in touched and "a.test.js > tdd > one" not in touched


def test_a_helper_of_a_helper_is_followed():
    src = 'const base = 1;\nfunction make() { return base + 1; }\ntest("uses make", () => { make(); });\ntest("other", () => {});\n'
    old, new = edit(src, "const base = 1;", "const base = 2;")
    assert JS.touched_tests("a.test.js", old, new) == ["a.test.js > uses make"]


def test_a_removed_line_in_a_test_touches_it_and_a_deleted_test_is_gone():
    src = 'test("a", () => {\n  one();\n  two();\n});\ntest("b", () => {\n  three();\n});\n'
    old, new = edit(src, "  two();\n", "")
    assert JS.touched_tests("a.test.js", old, new) == ["a.test.js > a"]
    old, new = edit(src, 'test("b", () => {\n  three();\n});\n', "")
    assert JS.touched_tests("a.test.js", old, new) == []


def test_new_and_deleted_files():
    assert JS.touched_tests("a.test.js", None, NESTED.encode()) == ids("a.test.js", NESTED)
    assert JS.touched_tests("a.test.js", NESTED.encode(), None) == []


def test_an_inserted_test_is_not_blamed_on_its_neighbours_closing_line():
    src = 'describe("d", () => {\n  it("a", () => {\n    one();\n  });\n\n  it("c", () => {\n    three();\n  });\n});\n'
    old, new = edit(src, '  it("c"', '  it("b", () => {\n    two();\n  });\n\n  it("c"')
    assert JS.touched_tests("a.test.js", old, new) == ["a.test.js > d > b"]


def test_blank_lines_and_comments_between_tests_touch_nothing():
    old, new = edit(NESTED, '  test("plain"', '\n  // a note\n\n  test("plain"')
    assert JS.touched_tests("a.test.js", old, new) == []


def test_a_renamed_describe_touches_its_tests():
    old, new = edit(NESTED, 'suite("tdd"', 'suite("tdd2"')
    assert JS.touched_tests("a.test.js", old, new) == ["a.test.js > tdd2 > one"]


def test_a_top_level_side_effect_touches_every_test():
    src = 'jest.mock("./a");\ntest("x", () => {});\ndescribe("d", () => { test("y", () => {}); });\n'
    old, new = edit(src, 'jest.mock("./a");', 'jest.mock("./b");')
    assert JS.touched_tests("a.test.js", old, new) == ["a.test.js > x", "a.test.js > d > y"]


# ---------------------------------------------------------------------------------------------
# Changed definitions

SOURCE = '''export function parse(text) {
  const clean = (s) => s.trim();
  return clean(text);
}
export const format = (value) => String(value);
class Store {
  get(key) {
    return this.items[key];
  }
  set = (key, value) => {
    this.items[key] = value;
  };
}
module.exports.helper = function () { return 1; };
const api = { load() { return 1; } };
'''


def test_definitions_have_qualified_names():
    assert [d.qualname for d in syntax.definitions("a.js", SOURCE.encode())] == [
        "parse", "parse.clean", "format", "Store", "Store.get", "Store.set", "helper", "api.load"]


@pytest.mark.parametrize("old,new,expected", [
    ("return this.items[key];", "return this.items[key] ?? null;", ["Store", "Store.get"]),
    ("s.trim()", "s.trimEnd()", ["parse", "parse.clean"]),
    ("String(value)", "`${value}`", ["format"]),
    ("return 1; };\nconst", "return 2; };\nconst", ["helper"]),
    ("load() { return 1; }", "load() { return 2; }", ["api.load"]),
])
def test_changed_definitions(old, new, expected):
    a, b = edit(SOURCE, old, new)
    assert JS.changed_definitions("src/a.js", a, b) == expected


def test_added_and_removed_definitions():
    added = SOURCE + "function extra() {}\n"
    assert JS.changed_definitions("a.js", SOURCE.encode(), added.encode()) == ["extra"]
    assert JS.changed_definitions("a.js", added.encode(), SOURCE.encode()) == ["extra"]
    ts = "export class A {\n  private x: number = 1;\n  method(): number {\n    return this.x;\n  }\n}\n"
    assert JS.changed_definitions("a.ts", ts.encode(), ts.replace("return this.x", "return this.x + 1").encode()) == ["A", "A.method"]


def test_added_definitions_and_referenced_names():
    added = SOURCE + "export function extra() {}\nclass Store2 { run() {} }\n"
    assert JS.added_definitions("a.js", SOURCE.encode(), added.encode()) == ["extra", "Store2", "Store2.run"]
    assert JS.added_definitions("a.js", None, b"function f() {}\n") == ["f"]
    assert JS.added_definitions("a.js", SOURCE.encode(), None) == []
    test = b'import { extra } from "../src/a";\ntest("x", () => {\n  expect(extra(api.load)).toBe(1);\n});\n'
    names = JS.referenced_names("a.test.js", test)
    assert {"extra", "api", "load", "expect"} <= names
    assert JS.referenced_names("a.test.js", test, {1}) == {"extra"}


# ---------------------------------------------------------------------------------------------
# Report parsers (real reports)


def test_jest_report():
    got = JS.parse((DATA / "jest.json").read_text(), "")
    assert got["__tests__/math.test.js > math > add > adds"] == PASSED
    assert got["__tests__/math.test.js > math > add > adds 2 + 2"] == FAILED
    assert got["__tests__/math.test.js > math > add > skipped"] == SKIPPED
    assert got["__tests__/math.test.js > math > add > later"] == SKIPPED  # todo
    assert got["__tests__/math.test.js > top level"] == PASSED
    assert got["__tests__/hook.test.js > with hook > one"] == FAILED  # jest fails the tests of a failed beforeAll
    assert got["__tests__/broken.test.js"] == ERROR  # failed to load
    assert len(got) == 11


def test_vitest_report():
    got = JS.parse((DATA / "vitest.json").read_text(), "")
    assert got["test/math.test.js > math > add > obj 1 'x'"] == PASSED
    assert got["test/math.test.js > math > fails"] == FAILED
    assert got["test/math.test.js > math > add > skipped"] == SKIPPED
    assert got["test/broken.test.js"] == ERROR
    # vitest leaves the tests of a failed beforeAll "pending" in a failed file: errors, not skips.
    assert got["test/hook.test.js > with hook > one"] == ERROR


def test_mocha_report_and_load_error():
    got = JS.parse((DATA / "mocha.jsonl").read_text(), "")
    assert got == {
        "test/math.test.js > top level": PASSED,
        "test/math.test.js > math > add > adds": PASSED,
        "test/math.test.js > math > add > fails": FAILED,
        "test/math.test.js > math > add > skipped": SKIPPED,
        "test/math.test.js > math > add > pending without body": SKIPPED,
        "test/math.test.js > with hook > one": ERROR,
        "test/math.test.js > with hook > inner > two": ERROR,
    }
    # A file that fails to load stops mocha before any report; its output names the file.
    assert JS.parse("", (DATA / "mocha-load-error.out").read_text()) == {"test/broken.test.js": ERROR}


def test_node_test_report():
    got = JS.parse((DATA / "node-test.jsonl").read_text(), "")
    assert got == {
        "test/broken.test.mjs": ERROR,
        "test/math.test.mjs > math > add > adds": PASSED,
        "test/math.test.mjs > math > add > fails": FAILED,
        "test/math.test.mjs > math > add > skipped": SKIPPED,
        "test/math.test.mjs > math > add > later": SKIPPED,
        "test/math.test.mjs > top level > sub ok": PASSED,
        "test/math.test.mjs > top level": PASSED,
        "test/math.test.mjs > with hook > one": ERROR,
    }


def test_ava_tap_per_file():
    got = JS.parse((DATA / "ava.tap").read_text(), "")
    assert got == {"test/math.test.js > skipped": SKIPPED, "test/math.test.js > later": SKIPPED,  # todo
                   "test/math.test.js > adds": PASSED, "test/math.test.js > fails": FAILED, "test/broken.test.js": ERROR}
    assert {t.test_id for t in JS.tests_in("test/math.test.js", (DATA / "ava-math.test.js").read_bytes())} == {
        k for k in got if k.startswith("test/math.test.js > ")}


def test_tape_tap_per_file():
    got = JS.parse((DATA / "tape.tap").read_text(), "")
    assert got == {"t.test.js > adds": PASSED, "t.test.js > fails": FAILED, "t.test.js > skipped": SKIPPED,
                   "t.test.js > outer": PASSED, "t.test.js > inner": PASSED, "broken.test.js": ERROR}
    # tape's TAP does not nest subtests: tests_in's "outer > inner" is reported as "inner" (a known gap).
    found = {t.test_id for t in JS.tests_in("t.test.js", (DATA / "tape-math.test.js").read_bytes())}
    assert found - set(got) == {"t.test.js > outer > inner"}


def test_junit_fallback_reads_nested_suites():
    got = JS.parse((DATA / "node-junit.xml").read_text(), "")
    assert got["math > add > adds"] == PASSED and got["math > add > fails"] == FAILED
    assert got["math > add > later"] == SKIPPED
    assert got["test/broken.test.mjs"] == ERROR
    xml = '<testsuites><testsuite name="s" file="/testbed/t/a.test.js"><testcase name="x"/><testcase name="y"><error/></testcase></testsuite></testsuites>'
    assert JS.parse(xml, "") == {"t/a.test.js > s > x": PASSED, "t/a.test.js > s > y": ERROR}


def test_unreadable_or_empty_reports_give_nothing():
    assert JS.parse("", "") == {}
    assert JS.parse("<testsuites", "") == {}
    assert JS.parse('{"testResults": [', "") == {}
    assert JS.parse('{"reporter": "swegen-mocha", "results": [{"file": "/testbed/a.js", "path": ["x"], "status": "passed"}]}\n{"cut', "") == {"a.js > x": PASSED}


def test_paths_are_relative_to_the_checkout():
    assert reports.relative("/testbed/pkg/a.test.js") == "pkg/a.test.js"
    assert reports.relative("file:///testbed/a.mjs") == "a.mjs"
    assert reports.relative("/elsewhere/a.js") == "/elsewhere/a.js"


# ---------------------------------------------------------------------------------------------
# Test commands


def a_plan(runner: str, workdir: str = "", workspaces: str = "") -> Plan:
    from swegen.images import EnvRecipe

    env = ((commands.WORKSPACES_VAR, workspaces),) if workspaces else ()
    return Plan("javascript", EnvRecipe("swegen-base:py3.11"), ("node", "18"), "npm", runner, "2024-01-01", workdir, env)


@pytest.mark.parametrize("runner,flags", [
    ("jest", ["jest --ci --json --outputFile=/tmp/swegen-js/report", "--watchAll=false", "--coverage=false", "--runTestsByPath"]),
    ("vitest", ["vitest run --reporter=json", "--outputFile=/tmp/swegen-js/report", "--coverage.enabled=false", "--watch=false"]),
    ("mocha", ["SWEGEN_REPORT=/tmp/swegen-js/report mocha $swegen_exit --reporter /tmp/swegen-js/mocha.cjs", "--no-colors", "--exit"]),
    ("node:test", ["node --test --test-reporter=/tmp/swegen-js/node-test.mjs", "--test-reporter-destination=/tmp/swegen-js/report"]),
    ("ava", ["ava --tap", "# swegen-file: ava $f"]),
    ("tape", ["node \"$f\"", "# swegen-exit: $code"]),
])
def test_commands_per_runner(runner, flags):
    cmd = JS.test_command(a_plan(runner), ["test/a b.test.js"])
    assert cmd.report_path == "/tmp/swegen-js/report"
    for flag in flags:
        assert flag in cmd.command
    assert "CI=true" in cmd.command and "FORCE_COLOR=0" in cmd.command and "'test/a b.test.js'" in cmd.command
    assert "--watch " not in cmd.command and "--coverage " not in cmd.command


def test_command_paths_are_relative_to_the_workspace_package():
    cmd = JS.test_command(a_plan("jest", "packages/a", "packages/a packages/b"), ["packages/a/src/x.test.ts", "packages/b/y.test.ts"])
    assert "src/x.test.ts /testbed/packages/b/y.test.ts" in cmd.command
    assert "SWEGEN_JS_WORKSPACES='packages/a packages/b'" in cmd.command


def test_install_command_links_node_modules_for_real(tmp_path):
    """The link step, run by sh on a fake image layout: root and workspace node_modules are
    linked into the checkout, the checkout's package files into the install, twice is harmless."""
    deps, checkout = tmp_path / "deps", tmp_path / "testbed"
    (deps / "node_modules" / "jest").mkdir(parents=True)
    (deps / "packages" / "a" / "node_modules" / "x").mkdir(parents=True)
    (checkout / "packages" / "a" / "src").mkdir(parents=True)
    (checkout / "packages" / "a" / "index.js").write_text("1\n")
    command = JS.install_command(a_plan("jest", "packages/a", "packages/a"))
    command = command.replace(commands.DEPS, str(deps)).replace("/testbed", str(checkout))
    for _ in range(2):
        subprocess.run(["sh", "-c", command], check=True)
    assert (checkout / "node_modules" / "jest").is_dir()
    assert (checkout / "packages" / "a" / "node_modules" / "x").is_dir()
    assert (deps / "packages" / "a" / "index.js").read_text() == "1\n" and (deps / "packages" / "a" / "src").is_dir()


@pytest.mark.parametrize("script,runner,expected", [
    ("mocha -u tdd --reporter spec && standard index.js", "mocha", ["-u", "tdd"]),
    ("mocha --require ts-node/register --recursive 'test/**/*.ts' --watch", "mocha", ["--require", "ts-node/register", "--recursive"]),
    ("cross-env NODE_ENV=test jest --config=jest.config.json --coverage src", "jest", ["--config=jest.config.json"]),
    ("vitest --run -c vite.config.ts --reporter verbose", "vitest", ["-c", "vite.config.ts"]),
    ("tsc && node --import tsx --test test/*.ts", "node:test", ["--import", "tsx"]),
    ("node scripts/build.js && node --test", "node:test", []),
    ("jest", "jest", []),
])
def test_runner_options_from_the_test_script(script, runner, expected):
    assert planning.runner_options(script, runner) == expected


def test_runner_options_reach_the_command(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg(scripts={"test": "mocha -u tdd --reporter dot"}, devDependencies={"mocha": "10"})})
    p = JS.plan(tmp_path, head, "2024-03-01")
    assert dict(p.test_env)[commands.OPTIONS_VAR] == "-u tdd" and "-u tdd" in reasons(p)["runner"]
    assert "mocha -u tdd $swegen_exit --reporter /tmp/swegen-js/mocha.cjs" in JS.test_command(p, ["test/a.js"]).command


@pytest.fixture(scope="module")
def mocha_bin(tmp_path_factory) -> Path:
    """mocha 10.8.2 installed for real from the npm registry (about 5 s)."""
    if shutil.which("npm") is None:
        pytest.skip("no npm on this host")
    folder = tmp_path_factory.mktemp("mocha")
    (folder / "package.json").write_text("{}")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "mocha@10.8.2"], cwd=folder, check=True, capture_output=True, timeout=300)
    return folder / "node_modules" / ".bin"


def test_mocha_command_runs_for_real(tmp_path, mocha_bin):
    """The mocha command with swegen's reporter, run by real mocha with the test script's
    `-u tdd` on a TDD file and on the BDD file whose stored report the parser tests read; a
    file that fails to load makes mocha run each file alone, and is the file's ERROR."""
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "math.test.js").write_text((DATA / "mocha-math.test.js").read_text())
    (tmp_path / "test" / "broken.test.js").write_text(BROKEN_CJS)
    (tmp_path / "test" / "tdd.js").write_text('const assert = require("assert");\nsuite("s", function () {\n  setup(function () {});\n  test("t", function () { assert.ok(true); });\n});\n')

    def run(plan: Plan, files: list[str]) -> dict[str, str]:
        shutil.rmtree(tmp_path / "r", ignore_errors=True)
        command = JS.test_command(plan, files).command.replace("/testbed", str(tmp_path)).replace(commands.REPORT_DIR, str(tmp_path / "r"))
        command = command.replace('export PATH="', f'export PATH="{mocha_bin}:')
        result = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        report = (tmp_path / "r" / "report").read_text() if (tmp_path / "r" / "report").exists() else ""
        return reports.parse(report, result.stdout + result.stderr, root=str(tmp_path))

    bdd = run(a_plan("mocha"), ["test/math.test.js", "test/broken.test.js"])
    expected = JS.parse((DATA / "mocha.jsonl").read_text(), "")
    assert bdd == {**expected, "test/broken.test.js": ERROR}
    tdd_plan = Plan("javascript", a_plan("mocha").recipe, ("node", "20"), "npm", "mocha", "2024", "", ((commands.OPTIONS_VAR, "-u tdd"),))
    assert run(tdd_plan, ["test/tdd.js"]) == {"test/tdd.js > s > t": PASSED} == {t.test_id: PASSED for t in JS.tests_in("test/tdd.js", (tmp_path / "test" / "tdd.js").read_bytes())}


def test_a_test_that_leaves_a_timer_running_does_not_hang_mocha(tmp_path, mocha_bin):
    """mocha 4+ waits for the event loop after the tests (express's suite leaves servers open):
    the command passes --exit, so the run ends with its report instead of at the stage's timeout."""
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "open.test.js").write_text('it("leaves a timer", function () { setInterval(function () {}, 1000); });\n')
    shutil.rmtree(tmp_path / "r", ignore_errors=True)
    command = JS.test_command(a_plan("mocha"), ["test/open.test.js"]).command.replace("/testbed", str(tmp_path)).replace(commands.REPORT_DIR, str(tmp_path / "r"))
    command = command.replace('export PATH="', f'export PATH="{mocha_bin}:')
    result = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    report = (tmp_path / "r" / "report").read_text()
    assert reports.parse(report, result.stdout + result.stderr, root=str(tmp_path)) == {"test/open.test.js > leaves a timer": PASSED}


def test_canaries_run_for_real_under_mocha(tmp_path, mocha_bin):
    """Planted into the mocha file (function callbacks, inside its first describe) and run by
    real mocha: must-pass ones pass, must-fail ones fail, the file's own tests keep theirs."""
    src = (DATA / "mocha-math.test.js").read_text()
    planted, canaries = JS.plant_canaries("test/math.test.js", src, [], random.Random(11))
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "math.test.js").write_text(planted)
    command = JS.test_command(a_plan("mocha"), ["test/math.test.js"]).command
    command = command.replace("/testbed", str(tmp_path)).replace(commands.REPORT_DIR, str(tmp_path / "r"))
    command = command.replace('export PATH="', f'export PATH="{mocha_bin}:')
    subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, timeout=120)
    got = reports.parse((tmp_path / "r" / "report").read_text(), "", root=str(tmp_path))
    assert {c.test_id: got.get(c.test_id) for c in canaries} == {c.test_id: PASSED if c.must_pass else FAILED for c in canaries}
    assert {k: v for k, v in got.items() if k not in {c.test_id for c in canaries}} == JS.parse((DATA / "mocha.jsonl").read_text(), "")


def test_commands_are_valid_shell():
    for runner in ("jest", "vitest", "mocha", "node:test", "ava", "tape"):
        cmd = JS.test_command(a_plan(runner, "packages/a", "packages/a"), ["packages/a/t.test.js"])
        subprocess.run(["sh", "-n", "-c", cmd.command], check=True)


def test_node_test_command_runs_for_real(tmp_path):
    """The node:test command as a sandbox would run it (host Node, reporter written by the
    command itself), parsed back to the ids tests_in gives; /testbed is replaced by tmp_path."""
    if shutil.which("node") is None:
        pytest.skip("no node on this host")
    src = (DATA / "node-math.test.mjs").read_text()
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "math.test.mjs").write_text(src)
    cmd = JS.test_command(a_plan("node:test"), ["test/math.test.mjs"])
    report = tmp_path / "report"
    command = cmd.command.replace("/testbed", str(tmp_path)).replace(commands.REPORT_DIR, str(tmp_path / "r"))
    subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, timeout=120)
    got = reports.parse((tmp_path / "r" / "report").read_text(), "", root=str(tmp_path))
    assert got["test/math.test.mjs > math > add > fails"] == FAILED
    assert {k for k in got} == {t.test_id for t in JS.tests_in("test/math.test.mjs", src.encode())}


# ---------------------------------------------------------------------------------------------
# Plans on real git repositories


def git_repo(path: Path, files: dict[str, str], date: str = "2024-03-01T00:00:00+00:00", changed: dict[str, str] | None = None) -> str:
    """A real repository with one commit of `files` (and a second one of `changed`); its head."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "d", "GIT_AUTHOR_EMAIL": "d@x", "GIT_COMMITTER_NAME": "d", "GIT_COMMITTER_EMAIL": "d@x",
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    run = lambda *a: subprocess.run(["git", "-C", str(path), *a], check=True, env=env, capture_output=True, text=True).stdout.strip()
    path.mkdir(parents=True, exist_ok=True)
    run("init", "-q", "-b", "main")
    for rounds in (files, changed or {}):
        if not rounds:
            continue
        for name, text in rounds.items():
            (path / name).parent.mkdir(parents=True, exist_ok=True)
            (path / name).write_text(text)
        run("add", "-A")
        run("commit", "-q", "-m", "c")
    return run("rev-parse", "HEAD")


def pkg(**fields) -> str:
    return json.dumps({"name": "p", "version": "1.0.0", **fields})


def reasons(plan: Plan) -> dict[str, str]:
    return dict(plan.reasons)


def test_no_package_json_is_no_plan(tmp_path):
    head = git_repo(tmp_path, {"main.py": "x = 1\n"})
    assert JS.plan(tmp_path, head, "2024-03-01") is None


def test_npm_lock_and_jest(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg(scripts={"test": "jest --runInBand"}, devDependencies={"jest": "^29"}),
                               "package-lock.json": "{}", "src/a.js": "", ".npmrc": "registry=x\n"})
    p = JS.plan(tmp_path, head, "2024-03-01T00:00:00+00:00")
    assert (p.manager, p.runner, p.runtime, p.workdir) == ("npm", "jest", ("node", "20"), "")
    assert any("npm ci" in c for c in p.recipe.install)
    assert {f for f, _ in p.recipe.files} == {"package.json", "package-lock.json", ".npmrc"}
    assert p.recipe.base_image == "swegen-base:py3.11" and set(p.recipe.system_packages) == {"nodejs", "npm"}
    assert set(reasons(p)) == {"workdir", "manager", "install", "node", "runner", "files"}
    assert "test script runs jest" in reasons(p)["runner"]


def test_the_work_tree_is_never_read(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg(devDependencies={"mocha": "^10"}), "yarn.lock": "# yarn lockfile v1\n"})
    (tmp_path / "package.json").write_text(pkg(devDependencies={"vitest": "^1"}))
    (tmp_path / "pnpm-lock.yaml").write_text("")
    p = JS.plan(tmp_path, head, "2024-03-01")
    assert (p.manager, p.runner) == ("yarn", "mocha")
    assert any("--frozen-lockfile" in c for c in p.recipe.install)
    assert any("yarn@1" in c for c in p.recipe.pre_install)


def test_yarn_berry_by_package_manager(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg(packageManager="yarn@3.6.1", devDependencies={"vitest": "1"}), "yarn.lock": "__metadata:\n  version: 6\n",
                               ".yarnrc.yml": "yarnPath: .yarn/releases/yarn-3.6.1.cjs\n", ".yarn/releases/yarn-3.6.1.cjs": "//\n"})
    p = JS.plan(tmp_path, head, "2024-03-01")
    assert p.manager == "yarn" and p.runner == "vitest"
    assert any("npm install -g --no-audit --no-fund yarn@1.22.22" in c for c in p.recipe.pre_install)  # hands over to yarnPath
    assert any("--immutable" in c and "YARN_NODE_LINKER=node-modules" in c for c in p.recipe.install)
    assert ".yarn/releases/yarn-3.6.1.cjs" in dict(p.recipe.files)


def test_yarn_berry_without_a_release_comes_through_corepack(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg(packageManager="yarn@4.5.0"), "yarn.lock": "__metadata:\n  version: 8\n"})
    p = JS.plan(tmp_path, head, "2024-03-01")
    setup = " ".join(p.recipe.pre_install)
    assert "corepack prepare yarn@4.5.0 --activate" in setup and "COREPACK_NPM_REGISTRY=https://registry.npmjs.org" in setup


def test_pnpm_with_its_version(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg(packageManager="pnpm@8.15.4+sha256.abc", devDependencies={"vitest": "1"}), "pnpm-lock.yaml": "lockfileVersion: '6.0'\n"})
    p = JS.plan(tmp_path, head, "2024-03-01")
    assert p.manager == "pnpm"
    assert any("pnpm@8.15.4" in c for c in p.recipe.pre_install)
    assert any("pnpm install --frozen-lockfile" in c for c in p.recipe.install)


@pytest.mark.parametrize("lock,expected", [("lockfileVersion: '9.0'\n", "pnpm@9"), ("lockfileVersion: '6.0'\n", "pnpm@8"),
                                           ("lockfileVersion: 5.4\n", "pnpm@7"), ("lockfileVersion: 5.3\n", "pnpm@6")])
def test_pnpm_version_from_the_lock_file(tmp_path, lock, expected):
    head = git_repo(tmp_path, {"package.json": pkg(), "pnpm-lock.yaml": lock})
    assert any(c.endswith(expected) for c in JS.plan(tmp_path, head, "2024-03-01").recipe.pre_install)


def test_no_lock_resolves_as_of_the_date(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg(devDependencies={"mocha": "^5"})}, date="2018-06-01T00:00:00+00:00")
    p = JS.plan(tmp_path, head, "2018-06-01T00:00:00+00:00")
    install = p.recipe.install
    assert "npm install --package-lock-only" in install[0] and "--before=2018-06-01T00:00:00+00:00" in install[0]
    assert p.runtime == ("node", "8")  # the LTS of June 2018
    # Resolved by the base image's npm, then Node 8 (with npm 6 to run on it), then npm ci.
    assert "npm@6" in install[1] and "node@8" in install[2] and "npm ci" in install[3]
    assert p.recipe.pre_install == ()


@pytest.mark.parametrize("files,expected", [
    ({".nvmrc": "v16.3.0\n"}, "16"),
    ({".nvmrc": "lts/gallium\n"}, "16"),
    ({".node-version": "14\n"}, "14"),
])
def test_node_pins(tmp_path, files, expected):
    head = git_repo(tmp_path, {"package.json": pkg(engines={"node": ">=18"}), **files})
    p = JS.plan(tmp_path, head, "2024-03-01")
    assert p.runtime == ("node", expected)
    assert files and next(iter(files)) in reasons(p)["node"]


@pytest.mark.parametrize("engines,expected", [(">=14", "18"), ("^16 || ^18", "18"), ("^12.20.0 || ^14.13.1", "14"), (">=20", "20"), ("14.x", "14")])
def test_engines_node(tmp_path, engines, expected):
    head = git_repo(tmp_path, {"package.json": pkg(engines={"node": engines})})
    assert JS.plan(tmp_path, head, "2024-03-01").runtime == ("node", expected)


def test_volta_pin(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg(volta={"node": "16.14.0"})})
    p = JS.plan(tmp_path, head, "2024-03-01")
    assert p.runtime == ("node", "16") and any("node@16" in c for c in p.recipe.install)  # after resolving (no lock)


def test_system_node_needs_no_setup(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg()}, date="2023-03-01T00:00:00+00:00")
    p = JS.plan(tmp_path, head, "2023-03-01")
    assert p.runtime == ("node", "18") and p.recipe.pre_install == () and p.runner == "node:test"


@pytest.mark.parametrize("layout", ["npm", "pnpm"])
def test_workspaces_pick_the_changed_package(tmp_path, layout):
    root = {"package.json": pkg(workspaces=["packages/*"]) if layout == "npm" else pkg(),
            "packages/a/package.json": pkg(name="a", devDependencies={"jest": "29"}),
            "packages/b/package.json": pkg(name="b", devDependencies={"vitest": "1"}),
            "packages/b/src/x.ts": "export const x = 1;\n"}
    if layout == "pnpm":
        root["pnpm-workspace.yaml"] = "packages:\n  - 'packages/*'\n"
        root["pnpm-lock.yaml"] = "lockfileVersion: '6.0'\n"
    else:
        root["package-lock.json"] = "{}"
    head = git_repo(tmp_path, root, changed={"packages/b/src/x.ts": "export const x = 2;\n", "packages/b/src/x.test.ts": "test('x', () => {});\n"})
    p = JS.plan(tmp_path, head, "2024-03-01")
    assert p.workdir == "packages/b" and p.runner == "vitest"
    assert {"packages/a/package.json", "packages/b/package.json"} <= {f for f, _ in p.recipe.files}
    assert dict(p.test_env)[commands.WORKSPACES_VAR] == "packages/a packages/b"
    assert "2 of the 2 changed files" in reasons(p)["workdir"]


def test_a_change_outside_the_workspaces_runs_at_the_root(tmp_path):
    head = git_repo(tmp_path, {"package.json": pkg(workspaces=["packages/*"], devDependencies={"mocha": "10"}), "packages/a/package.json": pkg()},
                    changed={"scripts/x.js": "1\n"})
    p = JS.plan(tmp_path, head, "2024-03-01")
    assert p.workdir == "" and p.runner == "mocha"


def test_a_project_in_a_subfolder(tmp_path):
    head = git_repo(tmp_path, {"server/main.go": "package main\n", "web/package.json": pkg(devDependencies={"vitest": "1"}),
                               "web/package-lock.json": "{}", "web/.nvmrc": "20\n"},
                    changed={"web/src/a.ts": "export const a = 1;\n", "web/src/a.test.ts": "test('a', () => {});\n"})
    p = JS.plan(tmp_path, head, "2024-03-01")
    assert (p.workdir, p.runner, p.runtime) == ("web", "vitest", ("node", "20"))
    assert {f for f, _ in p.recipe.files} == {"web/package.json", "web/package-lock.json", "web/.nvmrc"}
    assert any(c.startswith("if [") and "cd /opt/swegen/deps/web && npm ci" in c for c in p.recipe.install)
    assert dict(p.test_env)[commands.WORKSPACES_VAR] == "web" and "web/" in reasons(p)["project"]
    # A change elsewhere in that repository has no JS project.
    other = git_repo(tmp_path / "b", {"server/main.go": "package main\n", "web/package.json": pkg()}, changed={"server/main.go": "package main\n\n"})
    assert JS.plan(tmp_path / "b", other, "2024-03-01") is None


def test_plan_is_json_able(tmp_path):
    from dataclasses import asdict

    head = git_repo(tmp_path, {"package.json": pkg(devDependencies={"jest": "29"}), "package-lock.json": "{}"})
    json.dumps(asdict(JS.plan(tmp_path, head, "2024-03-01")))


# ---------------------------------------------------------------------------------------------
# Canaries


def test_canaries_inside_the_first_describe_in_the_files_style():
    src = (DATA / "mocha-math.test.js").read_text()
    planted, canaries = JS.plant_canaries("test/math.test.js", src, [], random.Random(7))
    assert len(canaries) == 4 and sum(c.must_pass for c in canaries) == 2
    found = ids("test/math.test.js", planted)
    assert all(c.test_id in found for c in canaries)
    assert all(c.test_id.startswith("test/math.test.js > math > ") for c in canaries)
    assert set(found) - {c.test_id for c in canaries} == set(ids("test/math.test.js", src))
    assert "function ()" in planted.split(canaries[0].test_id.split(" > ")[-1])[1][:40]  # mocha style kept
    assert JS.plant_canaries("test/math.test.js", src, [], random.Random(8))[1] != canaries


def test_canaries_without_describe_use_the_files_test_function():
    src = 'import { test } from "vitest";\ntest("a", () => {});\ntest("b", () => {});\n'
    planted, canaries = JS.plant_canaries("a.test.ts", src, [], random.Random(1))
    assert planted.startswith(src.rstrip("\n"))
    assert [c.test_id for c in canaries] == [t for t in ids("a.test.ts", planted) if t not in ("a.test.ts > a", "a.test.ts > b")]
    assert "\nit(" not in planted


def test_canaries_skip_skipped_suites_and_follow_focus():
    src = 'describe.skip("off", () => {\n  it("a", () => {});\n});\ndescribe("on", () => {\n  it.only("b", () => {});\n});\n'
    planted, canaries = JS.plant_canaries("a.test.js", src, [], random.Random(2))
    assert all(c.test_id.startswith("a.test.js > on > ") for c in canaries)
    assert planted.count("it.only(") == 5  # focused like the file's own test, or they would not run
    plain = 'xdescribe("off", () => {\n  it("a", () => {});\n});\n'
    planted, canaries = JS.plant_canaries("a.test.js", plain, [], random.Random(2))
    assert all(c.test_id.count(" > ") == 1 for c in canaries) and "it.only(" not in planted


def test_no_canaries_in_a_file_without_tests():
    assert JS.plant_canaries("a.js", "const x = 1;\n", [], random.Random(1)) == ("const x = 1;\n", [])


def test_canaries_run_for_real_under_node_test(tmp_path):
    """Planted into a real node:test file and run: must-pass ones pass, must-fail ones fail."""
    if shutil.which("node") is None:
        pytest.skip("no node on this host")
    src = (DATA / "node-math.test.mjs").read_text()
    planted, canaries = JS.plant_canaries("test/math.test.mjs", src, [], random.Random(3))
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "math.test.mjs").write_text(planted)
    command = JS.test_command(a_plan("node:test"), ["test/math.test.mjs"]).command
    command = command.replace("/testbed", str(tmp_path)).replace(commands.REPORT_DIR, str(tmp_path / "r"))
    subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, timeout=120)
    got = reports.parse((tmp_path / "r" / "report").read_text(), "", root=str(tmp_path))
    assert {c.test_id: got.get(c.test_id) for c in canaries} == {c.test_id: PASSED if c.must_pass else FAILED for c in canaries}


# ---------------------------------------------------------------------------------------------
# Doctor


def test_doctor_and_toolchain():
    assert JS.toolchain_packages() == ("nodejs", "npm")
    checks = JS.doctor()
    assert all(isinstance(ok, bool) and fix for _, ok, fix in checks)
    node = next(ok for name, ok, _ in checks if name.startswith("node on the host"))
    assert node == (shutil.which("node") is not None)


# ---------------------------------------------------------------------------------------------
# The whole chain in Docker: plan -> image -> install command -> test command -> parser


def npm_lock(folder: Path, packages: list[str]) -> None:
    """A real package-lock.json for these packages (asks the npm registry, installs nothing)."""
    if shutil.which("npm") is None:
        pytest.skip("no npm on this host")
    subprocess.run(["npm", "install", "--package-lock-only", "--no-audit", "--no-fund", "--ignore-scripts", *packages],
                   cwd=folder, check=True, capture_output=True, timeout=300)


def run_in_docker(folder: Path, head: str, files: list[str], tmp_path: Path, canaries_in: str | None = None,
                  as_of: str = "2024-06-01T00:00:00+00:00"):
    """(plan, result, statuses) of the plan's image running these files; with `canaries_in`,
    statuses also of a second run after canaries were planted there: (..., planted statuses, canaries)."""
    from swegen.docker_sandbox import DockerSandbox
    from swegen.images import build_env_image, host_ca_bundle
    from swegen.sandbox import SandboxSpec
    from swegen.testbed import git_archive

    plan = JS.plan(folder, head, as_of)
    tag, _ = build_env_image(plan.recipe, ca_bundle=host_ca_bundle(), log_path=tmp_path / "build.log")
    command = JS.test_command(plan, files)
    with DockerSandbox(SandboxSpec(image=tag)) as box:
        box.put_archive("/testbed", git_archive(folder, head))
        install = box.exec(JS.install_command(plan), timeout=120, workdir="/testbed")
        assert install.exit_code == 0, install.stdout + install.stderr
        result = box.exec(command.command, timeout=300, workdir="/testbed/" + plan.workdir)
        try:
            report = box.get(command.report_path).decode()
        except Exception:
            report = ""
        if canaries_in is None:
            return plan, result, JS.parse(report, result.stdout + result.stderr)
        source = box.get("/testbed/" + canaries_in).decode()
        planted, canaries = JS.plant_canaries(canaries_in, source, [], random.Random(5))
        box.put("/testbed/" + canaries_in, planted.encode())
        again = box.exec(command.command, timeout=300, workdir="/testbed/" + plan.workdir)
        second = JS.parse(box.get(command.report_path).decode(), again.stdout + again.stderr)
    return plan, result, JS.parse(report, result.stdout + result.stderr), second, canaries


BROKEN_CJS = 'const missing = require("./does-not-exist");\nit("never runs", () => {});\n'
BROKEN_ESM = 'import { test } from "vitest";\nimport missing from "./does-not-exist.js";\ntest("never runs", () => {});\n'


LOCKERS = {
    "pnpm": ["npx", "--yes", "pnpm@8.15.9", "install", "--lockfile-only"],
    "yarn": ["npx", "--yes", "yarn@1.22.22", "install", "--ignore-scripts", "--non-interactive"],
    "berry": ["npx", "--yes", "-p", "@yarnpkg/cli-dist@4.5.0", "yarn", "install", "--mode=update-lockfile"],
}


def project(tmp_path: Path, runner: str, test_file: str, packages: list[str], broken: str = BROKEN_CJS,
            date: str = "2024-03-01T00:00:00+00:00", lock: str = "npm") -> tuple[Path, str]:
    """A real repository whose lock file the real package manager wrote (from the npm registry)."""
    folder = tmp_path / "repo"
    folder.mkdir()
    extra = {"packageManager": "yarn@4.5.0"} if lock == "berry" else {}
    (folder / "package.json").write_text(pkg(scripts={"test": runner}, devDependencies={}, **extra))
    if packages:
        npm_lock(folder, packages)
    if lock in LOCKERS:
        (folder / "package-lock.json").unlink()
        env = {**os.environ, "YARN_ENABLE_TELEMETRY": "0"}
        subprocess.run(LOCKERS[lock], cwd=folder, check=True, capture_output=True, timeout=300, env=env)
        shutil.rmtree(folder / "node_modules", ignore_errors=True)
    source = (DATA / test_file).read_text()
    files = {"package.json": (folder / "package.json").read_text(), "test/math.test.js": source, "test/broken.test.js": broken}
    for name in ("package-lock.json", "pnpm-lock.yaml", "yarn.lock"):
        if (folder / name).exists():
            files[name] = (folder / name).read_text()
    return folder, git_repo(folder, files, date=date)


def stored(report: str, prefix: str) -> dict[str, str]:
    """A stored real report's statuses for its math and broken files, under test/."""
    got = JS.parse((DATA / report).read_text(), "")
    return {"test/" + k[len(prefix):]: v for k, v in got.items() if k.startswith(prefix + "math") or k.startswith(prefix + "broken")}


@pytest.mark.docker
@pytest.mark.slow  # one to three minutes each on a fresh machine: the runner's packages from the npm registry
@pytest.mark.parametrize("runner,data,packages,broken,date,lock,runtime", [
    ("jest", "jest", ["jest@29.7.0"], BROKEN_CJS, "2024-03-01T00:00:00+00:00", "npm", "20"),
    ("vitest", "vitest", ["vitest@1.6.1"], BROKEN_ESM, "2023-03-01T00:00:00+00:00", "pnpm", "18"),
])
def test_jest_and_vitest_projects_run_in_docker(tmp_path, base_image, runner, data, packages, broken, date, lock, runtime):
    """jest with npm ci on Node 20 (the npm registry's), vitest with pnpm on the base image's Node
    18: the statuses in the container are those of the stored real reports, and canaries planted
    there come out as they must."""
    folder, head = project(tmp_path, runner, f"{data}-math.test.js", packages, broken, date, lock)
    plan, result, got, planted, canaries = run_in_docker(folder, head, ["test/math.test.js", "test/broken.test.js"], tmp_path, "test/math.test.js")
    assert (plan.manager, plan.runner, plan.runtime) == (lock, runner, ("node", runtime))
    expected = stored(f"{data}.json", "__tests__/" if runner == "jest" else "test/")
    assert got == expected, result.stdout[-3000:] + result.stderr[-3000:]
    # Canaries planted in the same container: must-pass ones pass, must-fail ones fail.
    assert {c.test_id: planted.get(c.test_id) for c in canaries} == {c.test_id: PASSED if c.must_pass else FAILED for c in canaries}
    assert {k: v for k, v in planted.items() if k not in {c.test_id for c in canaries}} == expected


@pytest.mark.docker
@pytest.mark.slow  # about 135 s on a fresh machine: node@20 and mocha from the npm registry into an image
def test_mocha_project_runs_in_docker(tmp_path, base_image):
    """npm ci from a real lock file in the image, node_modules linked into the checkout, the
    mocha command with swegen's reporter: the statuses are those of the stored real report."""
    folder, head = project(tmp_path, "mocha", "mocha-math.test.js", ["mocha@10.8.2"])
    plan, result, got = run_in_docker(folder, head, ["test/math.test.js", "test/broken.test.js"], tmp_path)
    assert (plan.manager, plan.runner, plan.runtime) == ("npm", "mocha", ("node", "20"))
    expected = JS.parse((DATA / "mocha.jsonl").read_text(), "")
    expected["test/broken.test.js"] = ERROR
    assert got == expected, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.docker
@pytest.mark.slow  # about two minutes each on a fresh machine
@pytest.mark.parametrize("lock", ["yarn", "berry"])
def test_yarn_projects_run_in_docker(tmp_path, base_image, lock):
    """yarn classic (--frozen-lockfile) and yarn berry 4 through corepack from the npm registry
    (--immutable, node_modules linker) install mocha; the statuses are the stored real report's."""
    folder, head = project(tmp_path, "mocha", "mocha-math.test.js", ["mocha@10.8.2"], lock=lock)
    plan, result, got = run_in_docker(folder, head, ["test/math.test.js", "test/broken.test.js"], tmp_path)
    assert (plan.manager, plan.runner) == ("yarn", "mocha")
    expected = JS.parse((DATA / "mocha.jsonl").read_text(), "")
    expected["test/broken.test.js"] = ERROR
    assert got == expected, result.stdout[-2000:] + result.stderr[-2000:]


# ---------------------------------------------------------------------------------------------
# The JS example repository


def _show(repo: Path, rev: str, path: str) -> bytes | None:
    result = subprocess.run(["git", "-C", str(repo), "show", f"{rev}:{path}"], capture_output=True)
    return result.stdout if result.returncode == 0 else None


def _changed(repo: Path, rev: str) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo), "diff", "--name-only", f"{rev}^1", rev], capture_output=True, text=True, check=True).stdout
    return out.split()


def _run_node_tests(repo: Path, rev: str, test_files: dict[str, bytes], tmp: Path) -> dict[str, str]:
    """The source at `rev` with these test files, run by the real node:test command."""
    work = tmp / rev[:12]
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    subprocess.run(f"git -C {repo} archive {rev} | tar -x -C {work}", shell=True, check=True)
    for path, data in test_files.items():
        (work / path).write_bytes(data)
    command = JS.test_command(a_plan("node:test"), sorted(test_files)).command
    command = command.replace("/testbed", str(work)).replace(commands.REPORT_DIR, str(work / ".r"))
    subprocess.run(["sh", "-c", command], cwd=work, capture_output=True, timeout=120)
    return reports.parse((work / ".r" / "report").read_text(), "", root=str(work))


def test_js_example_is_reproducible_and_matches_its_manifest(tmp_path):
    from swegen.languages.javascript.example import MANIFEST, STEPS, create_js_example

    first = create_js_example(tmp_path / "a")
    assert create_js_example(tmp_path / "b") == first  # fixed dates and authors: the same ids anywhere
    count = subprocess.run(["git", "-C", str(tmp_path / "a"), "rev-list", "--count", "HEAD"], capture_output=True, text=True).stdout
    assert int(count) == MANIFEST["commit_count"]
    assert [c["id"] for c in MANIFEST["changes"]] == [s.id for s in STEPS]
    with pytest.raises(Exception, match="not empty"):
        create_js_example(tmp_path / "a")
    p = JS.plan(tmp_path / "a", first["release-0-2-0"], "2024-06-01")
    assert (p.runner, p.manager, p.runtime) == ("node:test", "npm", ("node", "18"))


def test_js_example_tasks_fail_before_and_pass_after(tmp_path):
    """Every task of the manifest, for real: its new tests fail on the parent's source and pass
    on the fix's, and touched_tests finds exactly them; every fix changes a definition."""
    from swegen.languages.javascript.example import MANIFEST, create_js_example

    if shutil.which("node") is None:
        pytest.skip("no node on this host")
    repo = tmp_path / "repo"
    ids = create_js_example(repo)
    tasks = [c for c in MANIFEST["changes"] if c["expected"] == "task"]
    assert len(tasks) == 4
    for change in tasks:
        rev = ids[change["id"] + ":merge"] if "merged_as" in change else ids[change["id"]]
        files = _changed(repo, rev)
        tests = {f: _show(repo, rev, f) for f in files if roles.is_test(f)}
        sources = [f for f in files if not roles.is_test(f)]
        assert tests and sources, change["id"]
        touched = [t for f, data in tests.items() for t in JS.touched_tests(f, _show(repo, rev + "^1", f), data)]
        assert touched == change["fail_to_pass"], change["id"]
        assert all(JS.changed_definitions(f, _show(repo, rev + "^1", f), _show(repo, rev, f)) for f in sources), change["id"]
        before = _run_node_tests(repo, rev + "^1", tests, tmp_path)
        after = _run_node_tests(repo, rev, tests, tmp_path)
        assert {t: before.get(t) for t in change["fail_to_pass"]} == {t: FAILED for t in change["fail_to_pass"]}, change["id"]
        assert {t: after.get(t) for t in change["fail_to_pass"]} == {t: PASSED for t in change["fail_to_pass"]}, change["id"]
        assert set(after.values()) == {PASSED}, (change["id"], after)  # everything else still passes


@pytest.mark.docker
@pytest.mark.slow  # about a minute each on a fresh machine (is-odd from the npm registry into an image)
@pytest.mark.parametrize("layout", ["npm", "pnpm"])
def test_workspaces_run_in_docker(tmp_path, base_image, layout):
    """A monorepo (npm workspaces; pnpm's, whose node_modules are links into .pnpm): the change
    is in packages/app, whose test imports the workspace package `core` (its source only in the
    checkout) and core's registry dependency; the plan runs there, the install command links
    both ways, and node:test passes."""
    folder = tmp_path / "repo"
    files = {
        "package.json": pkg(name="mono", private=True, **({"workspaces": ["packages/*"]} if layout == "npm" else {})),
        "packages/core/package.json": pkg(name="core", type="module", main="index.js", dependencies={"is-odd": "3.0.1"}),
        "packages/core/index.js": 'import isOdd from "is-odd";\nexport const odd = (n) => isOdd(n);\n',
        "packages/app/package.json": pkg(name="app", type="module", scripts={"test": "node --test"},
                                         dependencies={"core": "1.0.0" if layout == "npm" else "workspace:*"}),
        "packages/app/index.js": 'import { odd } from "core";\nexport const label = (n) => (odd(n) ? "odd" : "even");\n',
    }
    if layout == "pnpm":
        files["pnpm-workspace.yaml"] = "packages:\n  - 'packages/*'\n"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    if layout == "npm":
        npm_lock(folder, [])
        files["package-lock.json"] = (folder / "package-lock.json").read_text()
    else:
        subprocess.run(LOCKERS["pnpm"], cwd=folder, check=True, capture_output=True, timeout=300)
        files["pnpm-lock.yaml"] = (folder / "pnpm-lock.yaml").read_text()
    test = 'import { test } from "node:test";\nimport assert from "node:assert";\nimport { label } from "../index.js";\ntest("labels", () => {\n  assert.equal(label(3), "odd");\n});\n'
    shutil.rmtree(folder)
    head = git_repo(folder, files, changed={"packages/app/test/label.test.js": test, "packages/app/index.js": files["packages/app/index.js"] + "\n"})
    plan, result, got = run_in_docker(folder, head, ["packages/app/test/label.test.js"], tmp_path)
    assert (plan.workdir, plan.runner, plan.manager) == ("packages/app", "node:test", layout)
    assert got == {"packages/app/test/label.test.js > labels": PASSED}, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.docker
@pytest.mark.slow  # about a minute on a fresh machine (mocha from the npm registry into an image)
def test_project_in_a_subfolder_runs_in_docker(tmp_path, base_image):
    """package.json only in web/: dependencies installed under /opt/swegen/deps/web, linked into
    /testbed/web, the tests run there with their web-relative paths given checkout-relative."""
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "package.json").write_text(pkg(scripts={"test": "mocha"}))
    npm_lock(staging, ["mocha@10.8.2"])
    files = {"web/package.json": (staging / "package.json").read_text(), "web/package-lock.json": (staging / "package-lock.json").read_text(),
             "server/main.go": "package main\n"}
    folder = tmp_path / "repo"
    head = git_repo(folder, files, changed={"web/test/math.test.js": (DATA / "mocha-math.test.js").read_text()})
    plan, result, got = run_in_docker(folder, head, ["web/test/math.test.js"], tmp_path)
    assert (plan.workdir, plan.runner) == ("web", "mocha")
    expected = {"web/" + k: v for k, v in JS.parse((DATA / "mocha.jsonl").read_text(), "").items()}
    assert got == expected, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.docker
@pytest.mark.slow  # one to two minutes on a fresh machine: npm 6 and node@8 from the npm registry
def test_a_2018_project_without_lock_runs_on_node_8_in_docker(tmp_path, base_image):
    """No lock file, June 2018: Node 8 (that day's LTS, from the npm registry, with npm 6 to run
    on it) and mocha ^5 resolved with npm install --before that day (behind this host's registry
    mirror, whose publish dates are its copy dates, the fallback resolves as of now: mocha 5.2.0
    either way); swegen's reporter works on that mocha too."""
    folder = tmp_path / "repo"
    files = {"package.json": pkg(scripts={"test": "mocha"}, devDependencies={"mocha": "^5.0.0"}),
             "test/math.test.js": (DATA / "mocha-math.test.js").read_text()}
    head = git_repo(folder, files, date="2018-06-01T00:00:00+00:00")
    plan, result, got = run_in_docker(folder, head, ["test/math.test.js"], tmp_path, as_of="2018-06-01T00:00:00+00:00")
    assert plan.runtime == ("node", "8") and plan.manager == "npm"
    assert got == JS.parse((DATA / "mocha.jsonl").read_text(), ""), result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["ava@6.4.1", "tape@5.10.2"])
def test_canaries_under_ava_and_tape_come_out_as_planted(tmp_path, runner):
    """ava fails a test that asserts nothing, and tape waits for t.end(): canaries in those files
    use the runner's own `t`, so a must-pass canary passes (a plain throw-style one failed under
    ava: every ky task was wrongly `tampered`). Real runners from the npm registry (slow)."""
    name = runner.split("@")[0]
    (tmp_path / "package.json").write_text('{"type": "module"}')
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", runner], cwd=tmp_path, check=True, capture_output=True, timeout=300)
    source = (f'import test from "{name}";\n\ntest("adds numbers", (t) => {{\n  t.is(1 + 1, 2);\n  ' + ("t.end();\n" if name == "tape" else "") + "});\n")
    source = source.replace("t.is(", "t.equal(") if name == "tape" else source
    text, canaries = JS.plant_canaries("test/a.test.js", source, ["test/a.test.js > adds numbers"], random.Random(5))
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "a.test.js").write_text(text)
    plan = Plan("javascript", a_plan(name).recipe, ("node", "20"), "npm", name, "2024", "", ())
    command = JS.test_command(plan, ["test/a.test.js"]).command.replace("/testbed", str(tmp_path)).replace(commands.REPORT_DIR, str(tmp_path / "r"))
    command = command.replace('export PATH="', f'export PATH="{tmp_path / "node_modules" / ".bin"}:')
    result = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    statuses = reports.parse((tmp_path / "r" / "report").read_text(), result.stdout + result.stderr, root=str(tmp_path))
    assert {c.test_id: statuses.get(c.test_id) for c in canaries} == {c.test_id: PASSED if c.must_pass else FAILED for c in canaries}, statuses


def test_missing_dependency_only_when_the_runner_cannot_start(tmp_path: Path) -> None:
    """Real node: a config that requires a package the image lacks stops the runner before any
    test (an environment verdict); a test file that requires a missing or relative module while
    other tests run is that file's ERROR, read from the report, not an environment verdict."""
    node = shutil.which("node")
    assert node, "node is not installed: apt-get install -y nodejs (scripts/setup.sh does it for CI)"
    (tmp_path / "setup.js").write_text("require('left-pad-not-installed');\n")
    started = subprocess.run([node, "--require", "./setup.js", "-e", "1"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert started.returncode != 0 and "Cannot find module" in started.stderr
    said = reports.missing_dependency("", started.stdout + started.stderr)
    assert said is not None and "left-pad-not-installed" in said and said.count("\n") == 0, said
    ran = '<testsuites><testsuite name="a"><testcase classname="a" name="works" file="/testbed/a.test.js"/></testsuite></testsuites>'
    assert reports.parse(ran) and reports.missing_dependency(ran, started.stderr) is None
    (tmp_path / "rel.js").write_text("require('./not-here');\n")
    relative = subprocess.run([node, "rel.js"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "Cannot find module './not-here'" in relative.stderr
    assert reports.missing_dependency("", relative.stderr) is None


def test_a_failed_rebuild_is_said_and_survived(tmp_path):
    """`npm rebuild` (the dependencies' install scripts) that fails keeps the image, saying so;
    one that works is run as it is. Real sh; `false` and `true` stand for the tool's outcome."""
    from swegen.languages.javascript.plan import rebuild

    failed = subprocess.run(["sh", "-c", rebuild(f"cd {tmp_path}", "false")], capture_output=True, text=True)
    assert failed.returncode == 0 and "rebuild failed" in failed.stderr and "will fail on their own" in failed.stderr
    worked = subprocess.run(["sh", "-c", rebuild(f"cd {tmp_path}", "true")], capture_output=True, text=True)
    assert worked.returncode == 0 and worked.stderr == ""
    assert subprocess.run(["sh", "-c", rebuild(f"cd {tmp_path}/missing", "true")], capture_output=True).returncode != 0
