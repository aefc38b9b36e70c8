"""Python's tree-sitter reading (swegen.languages.python.syntax, once codeindex) names exactly the tests a change touches and the definitions it changes, following pytest's collection rules, and never crashes on broken or unsupported code."""

from __future__ import annotations

import textwrap
from pathlib import Path

from swegen.languages.python import syntax as codeindex
from swegen.languages.python.syntax import (
    Definition,
    added_definitions,
    changed_definitions,
    definitions,
    language_for,
    referenced_names,
    test_node_ids,
    touched_tests,
)

P = "tests/test_ledger.py"


def src(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def line_of(source: bytes, needle: str) -> int:
    """1-based number of the only line containing `needle`."""
    hits = [i for i, line in enumerate(source.decode().splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


TESTS = src(
    '''
    import unittest
    import pytest

    RATES = [1, 2]


    def make_ledger():
        return {"balance": 0}


    @pytest.fixture
    def ledger():
        return make_ledger()


    def test_plain():
        assert make_ledger()["balance"] == 0


    def test_uses_fixture(ledger):
        assert ledger["balance"] == 0


    @pytest.mark.parametrize("rate", RATES)
    def test_param(rate):
        assert rate > 0


    async def test_async():
        assert "async"


    class TestLedger:
        limit = 10

        def helper(self):
            return 1

        def test_method(self):
            assert self.helper() == 1

        class TestInner:
            def test_deep(self):
                assert "deep"


    class LedgerChecks(unittest.TestCase):
        def setUp(self):
            self.x = 1

        def test_unit(self):
            self.assertEqual(self.x, 1)


    class Helper:
        def test_not_collected(self):
            pass


    class TestWithInit:
        def __init__(self):
            pass

        def test_not_collected_either(self):
            pass


    def not_a_test():
        def test_local():
            pass
    '''
)


def ids(*names: str) -> list[str]:
    return [f"{P}::{n}" for n in names]


def test_test_node_ids_follow_pytest_collection():
    assert test_node_ids(P, TESTS) == ids(
        "test_plain",
        "test_uses_fixture",
        "test_param",
        "test_async",
        "TestLedger::test_method",
        "TestLedger::TestInner::test_deep",
        "LedgerChecks::test_unit",
    )


def test_definitions_cover_nesting_kinds_and_decorators():
    defs = {d.qualname: d for d in definitions(P, TESTS)}
    assert defs["ledger"] == Definition(
        "ledger", "function", line_of(TESTS, "@pytest.fixture"), line_of(TESTS, "return make_ledger()")
    )
    assert defs["TestLedger.test_method"].kind == "method"
    assert defs["TestLedger.TestInner"].kind == "class"
    assert defs["TestLedger.TestInner.test_deep"].kind == "method"
    assert defs["not_a_test.test_local"].kind == "function"
    assert defs["test_param"].start_line == line_of(TESTS, "@pytest.mark.parametrize")


def test_unchanged_file_touches_nothing():
    assert touched_tests(P, TESTS, TESTS, set(), set()) == []


def test_added_line_in_module_level_test():
    new = TESTS.replace(b"assert rate > 0", b"assert rate > 1")
    assert touched_tests(P, TESTS, new, {line_of(new, "assert rate > 1")}, set()) == ids("test_param")


def test_decorator_change_touches_parametrized_test():
    new = TESTS.replace(b'parametrize("rate", RATES)', b'parametrize("rate", [3])')
    line = line_of(new, "[3])")
    assert touched_tests(P, TESTS, new, {line}, {line}) == ids("test_param")


def test_async_test_change():
    new = TESTS.replace(b'assert "async"', b'assert "awaited"')
    assert touched_tests(P, TESTS, new, {line_of(new, "awaited")}, set()) == ids("test_async")


def test_methods_in_test_class_unittest_class_and_nested_class():
    new = (
        TESTS.replace(b"assert self.helper() == 1", b"assert self.helper() == 1  # same")
        .replace(b"self.assertEqual(self.x, 1)", b"self.assertEqual(self.x, 2)")
        .replace(b'assert "deep"', b'assert "deeper"')
    )
    added = {line_of(new, "self.assertEqual(self.x, 2)"), line_of(new, '"deeper"')}
    assert touched_tests(P, TESTS, new, added, set()) == ids(
        "LedgerChecks::test_unit", "TestLedger::TestInner::test_deep"
    )


def test_body_comparison_finds_changes_without_line_numbers():
    new = TESTS.replace(b"assert ledger[", b"assert not ledger[")
    assert touched_tests(P, TESTS, new, set(), set()) == ids("test_uses_fixture")


def test_change_in_helper_touches_tests_using_it_through_fixtures_too():
    new = TESTS.replace(b'return {"balance": 0}', b'return {"balance": 1}')
    line = line_of(new, '{"balance": 1}')
    assert touched_tests(P, TESTS, new, {line}, {line}) == ids("test_plain", "test_uses_fixture")


def test_change_in_fixture_touches_tests_naming_it():
    new = TESTS.replace(b"return make_ledger()", b"return make_ledger() or {}")
    assert touched_tests(P, TESTS, new, set(), {line_of(TESTS, "return make_ledger()")}) == ids(
        "test_uses_fixture"
    )


def test_module_constant_touches_tests_using_it():
    new = TESTS.replace(b"RATES = [1, 2]", b"RATES = [1, 2, 3]")
    assert touched_tests(P, TESTS, new, {line_of(new, "RATES =")}, set()) == ids("test_param")


def test_setup_and_class_attribute_touch_their_class_only():
    new = TESTS.replace(b"self.x = 1", b"self.x = 2")
    assert touched_tests(P, TESTS, new, {line_of(new, "self.x = 2")}, set()) == ids("LedgerChecks::test_unit")
    new = TESTS.replace(b"limit = 10", b"limit = 11")
    assert touched_tests(P, TESTS, new, {line_of(new, "limit = 11")}, set()) == ids(
        "TestLedger::TestInner::test_deep", "TestLedger::test_method"
    )


def test_method_helper_in_test_class():
    new = TESTS.replace(b"return 1\n", b"return 2\n")
    assert touched_tests(P, TESTS, new, {line_of(new, "return 2")}, set()) == ids("TestLedger::test_method")


def test_deleted_test_not_reported_and_new_test_is():
    old = TESTS
    new = TESTS.replace(b"async def test_async():", b"async def test_renamed():")
    line = line_of(new, "test_renamed")
    assert touched_tests(P, old, new, {line}, {line_of(old, "test_async")}) == ids("test_renamed")


def test_removed_lines_only_deletion():
    start, end = line_of(TESTS, "def test_plain"), line_of(TESTS, 'assert make_ledger()["balance"]')
    lines = TESTS.decode().splitlines(keepends=True)
    new = "".join(lines[: start - 1] + lines[end + 2 :]).encode()
    assert touched_tests(P, TESTS, new, set(), set(range(start, end + 3))) == []


def test_brand_new_file_and_deleted_file():
    assert touched_tests(P, None, TESTS, set(range(1, 200)), set()) == sorted(test_node_ids(P, TESTS))
    assert touched_tests(P, TESTS, None, set(), set(range(1, 200))) == []


CODE = src(
    '''
    class Ledger:
        currency = "EUR"

        def between(self, a, b):
            return a + b

        @property
        def total(self):
            return 0


    def parse(text):
        return text.split()
    '''
)


def test_changed_definitions_method_function_and_class_attribute():
    new = CODE.replace(b"return a + b", b"return a - b").replace(b"text.split()", b"text.split(',')")
    added = {line_of(new, "return a - b"), line_of(new, "split(',')")}
    removed = {line_of(CODE, "return a + b"), line_of(CODE, "text.split()")}
    assert changed_definitions("ledger.py", CODE, new, added, removed) == ["Ledger.between", "parse"]
    new = CODE.replace(b'"EUR"', b'"USD"')
    assert changed_definitions("ledger.py", CODE, new, {2}, {2}) == ["Ledger"]
    assert changed_definitions("ledger.py", CODE, new, {line_of(CODE, "@property")}, set()) == [
        "Ledger.total"
    ]
    assert changed_definitions("ledger.py", CODE, CODE, {3}, {3}) == []  # blank line only


def test_added_definitions():
    new = CODE + src(
        '''

        class Report:
            def render(self):
                return ""
        '''
    )
    new = new.replace(b"    @property", b"    def since(self, day):\n        return day\n\n    @property")
    assert added_definitions("ledger.py", CODE, new) == ["Ledger.since", "Report", "Report.render"]
    assert added_definitions("ledger.py", None, CODE) == ["Ledger", "Ledger.between", "Ledger.total", "parse"]
    assert added_definitions("ledger.py", CODE, None) == []


def test_referenced_names_on_a_slice_of_lines():
    test = src(
        '''
        def test_between(ledger):
            got = ledger.between(1, 2)
            assert got == 3
        '''
    )
    assert referenced_names(P, test, {2}) == {"got", "ledger", "between"}
    assert referenced_names(P, test, set()) == set()
    assert referenced_names(P, test) == {"test_between", "ledger", "got", "between"}


def test_syntax_errors_do_not_crash():
    broken = src(
        '''
        def test_ok():
            assert 1

        def helper(:
            return (

        def test_after():
            assert 2
        '''
    )
    assert "test_ok" in [d.qualname for d in definitions(P, broken)]
    assert f"{P}::test_ok" in test_node_ids(P, broken)
    touched_tests(P, TESTS, broken, set(range(1, 20)), set(range(1, 20)))
    changed_definitions(P, broken, broken, set(range(0, 50)), set(range(0, 50)))
    referenced_names(P, broken, {4, 5})
    deep = b"x = " + b"+".join([b"a"] * 5000) + b"\n"
    assert referenced_names(P, deep) == {"x", "a"}


def test_unsupported_extension_gives_empty_results():
    assert language_for("README.md") is None
    assert language_for("pkg/mod.py").name == "python"
    assert definitions("main.go", b"func TestX(t *testing.T) {}") == []
    assert test_node_ids("a.rs", b"fn test_x() {}") == []
    assert touched_tests("a.js", b"", b"test('x', () => {})", {1}, set()) == []
    assert changed_definitions("a.js", b"", b"function f() {}", {1}, set()) == []
    assert added_definitions("a.js", b"", b"function f() {}") == []
    assert referenced_names("a.js", b"f()") == set()


def test_renamed_and_autouse_fixtures_and_imports():
    source = src(
        '''
        from mod import a as b
        import pytest


        @pytest.fixture(name="db")
        def _db_fixture():
            return 1


        @pytest.fixture(autouse=True)
        def env():
            yield


        def test_db(db):
            pass


        def test_b():
            b()
        '''
    )
    assert touched_tests(P, source, source, {line_of(source, "return 1")}, set()) == ids("test_db")
    assert touched_tests(P, source, source, {line_of(source, "as b")}, set()) == ids("test_b")
    assert touched_tests(P, source, source, {line_of(source, "yield")}, set()) == ids("test_b", "test_db")


def test_reparsing_a_changed_version_gives_the_results_of_a_fresh_parse():
    # Changes at the top, in the middle and at the end: the reparse gets one edit for each.
    test_node_ids(P, TESTS)
    new = (
        TESTS.replace(b"import unittest\n", b"import unittest\nimport os\n")
        .replace(b'assert ledger["balance"] == 0', b'assert ledger["balance"] == 0\n    assert os.sep')
        + b"\n\ndef test_last():\n    pass\n"
    )
    fresh = "other/" + P  # another path: parsed from scratch
    assert definitions(P, new) == definitions(fresh, new)
    assert test_node_ids(P, new) == [i.replace("other/", "") for i in test_node_ids(fresh, new)]
    line = line_of(new, "assert os.sep")
    assert touched_tests(P, TESTS, new, {line}, set()) == ids("test_last", "test_uses_fixture")


def test_a_changed_name_in_strings_and_comments_touches_nothing():
    old = src(
        """
        def helper():
            return 1


        def test_calls():
            assert helper() == 1


        def test_mentions():
            # helper is not called here
            assert "helper" != "helper()"
        """
    )
    new = old.replace(b"return 1", b"return 2").replace(b"helper() == 1", b"helper() == 2")
    changed = {line_of(new, "return 2"), line_of(new, "helper() == 2")}
    assert touched_tests(P, old, new, changed, changed) == ids("test_calls")


def test_shared_change_of_an_autouse_fixture_touches_every_test_of_another_file():
    conftest = b"import pytest\n\n@pytest.fixture(autouse=True)\ndef env(monkeypatch):\n    monkeypatch.setenv('X', '1')\n"
    change = codeindex.shared_change("tests/conftest.py", conftest, {5})
    assert change.every_test and "env" in change.names
    tests = b"def test_a():\n    pass\n\nclass TestB:\n    def test_b(self):\n        pass\n"
    assert codeindex.tests_using("tests/test_x.py", tests, change) == ["tests/test_x.py::TestB::test_b", "tests/test_x.py::test_a"]


def test_shared_change_reaches_a_test_through_a_fixture_of_its_own_file():
    conftest = b"import pytest\n\n@pytest.fixture\ndef base():\n    return 1\n"
    change = codeindex.shared_change("tests/conftest.py", conftest, {5})
    assert change.names == {"base"} and not change.every_test
    tests = b"import pytest\n\n@pytest.fixture\ndef derived(base):\n    return base + 1\n\ndef test_d(derived):\n    pass\n\ndef test_e():\n    pass\n"
    assert codeindex.tests_using("tests/test_x.py", tests, change) == ["tests/test_x.py::test_d"]


def _edits_of(source: bytes, rng, changes: int | None = None) -> bytes:
    """A new version of `source`: lines changed, inserted, deleted and moved at random spots,
    some close together (a few hundred bytes apart), some far apart."""
    lines = source.splitlines(keepends=True)
    for _ in range(changes or rng.randrange(1, 40)):
        at = rng.randrange(len(lines))
        action = rng.randrange(4)
        if action == 0:
            lines[at] = lines[at].replace(b"x", b"renamed_x").replace(b"1", b"(2 + 3)")
        elif action == 1:
            lines.insert(at, b"    value = compute(%d)\n" % at)
        elif action == 2 and len(lines) > 10:
            del lines[at : at + rng.randrange(1, 6)]
        else:
            block = lines[at : at + 8]
            del lines[at : at + 8]
            lines.insert(rng.randrange(len(lines) + 1), b"".join(block))
    return b"".join(lines)


def _shape(root) -> list[tuple[str, int, int]]:
    """Every node's type and byte span, in order: two trees of one text are the same tree."""
    return [(n.type, n.start_byte, n.end_byte) for n in codeindex._walk(root)]


def test_incremental_reparse_gives_the_tree_of_a_full_parse():
    """Mining reparses each file from the last version it parsed, with one tree edit per changed
    stretch. However the stretches are found, the tree must be the one a fresh parse gives."""
    import random

    from tree_sitter import Parser

    rng = random.Random(7)
    body = "".join(
        f"def test_case_{i}(x):\n    assert x + {i} == {i} + x\n    return [x for x in range({i})]\n\n"
        f"class Thing{i}:\n    def method(self, x=1):\n        return x * {i}\n\n"
        for i in range(120)
    ).encode()
    spec = codeindex.language_for("t.py")
    parser = Parser(codeindex._language(spec))
    versions = [body]
    for _ in range(60):
        versions.append(_edits_of(rng.choice(versions), rng))
    for old, new in zip(versions, versions[1:]):
        codeindex._parse(spec, old, "tests/test_incremental.py")
        incremental = codeindex._parse(spec, new, "tests/test_incremental.py")
        assert _shape(incremental) == _shape(parser.parse(new).root_node)
        spans = codeindex._changed_spans(old, new)
        rebuilt, last = b"", 0
        for old_start, old_end, new_start, new_end in spans:
            rebuilt += old[last:old_start] + new[new_start:new_end]
            last = old_end
        assert rebuilt + old[last:] == new


def test_reparse_of_interleaved_branches_reuses_the_closest_tree_and_gives_a_full_parse():
    """Versions of one file from several branches arrive interleaved (main, a maintenance
    branch, main again). Each is reparsed from the closest of the trees kept for the path, or
    reused when its text was seen; the tree is still the one a fresh parse gives."""
    import random

    from tree_sitter import Parser

    rng = random.Random(11)
    body = "".join(f"def test_{i}(x):\n    assert x + {i} == {i} + x\n\n" for i in range(300)).encode()
    spec = codeindex.language_for("t.py")
    parser = Parser(codeindex._language(spec))
    branches = [[body] for _ in range(3)]
    for _ in range(15):
        for line in branches:
            line.append(_edits_of(line[-1], rng))
    path = "tests/test_interleaved.py"
    codeindex._LAST_TREES.pop(path, None)
    order = [version for step in zip(*branches) for version in step]
    order += rng.sample(order, 20)  # and some seen before, in any order
    for version in order:
        assert _shape(codeindex._parse(spec, version, path)) == _shape(parser.parse(version).root_node)
    kept = codeindex._LAST_TREES[path]
    assert len(kept) == codeindex._TREES_PER_PATH and len({text for text, _ in kept}) == len(kept)
    # the closest kept tree is taken: the next version of the branch parsed four versions ago
    older = kept[-1][0]
    tree, text, _ = codeindex._closest(kept, _edits_of(older, rng, 1))
    assert text == older


def test_a_source_files_facts_from_the_definitions_at_its_changed_lines_equal_those_from_all():
    """For a source file, mining indexes only the definitions that hold or start on the changed
    lines (and their enclosing ones). Changed and added definitions must be what the index of
    every definition gives, for any lines: decorators, nested classes and functions, blanks."""
    import random

    rng = random.Random(5)
    decorated = (
        "import functools\n\n\nclass App:\n    @property\n    def name(self):\n        return 1\n\n"
        "    @functools.lru_cache(maxsize=2)\n    @staticmethod\n    def cached(x):\n        def inner():\n"
        "            class Local:\n                pass\n            return Local\n        return inner\n\n"
        "    class Nested:\n        @classmethod\n        def make(cls):\n            return cls()\n\n\n"
        "@functools.wraps(print)\ndef top(*args):\n    return args\n"
    )
    root = Path(codeindex.__file__).parent
    sources = [decorated.encode()] + [path.read_bytes() for path in sorted(root.glob("*.py"))[:6]]
    for source in sources:
        count = source.count(b"\n") + 1
        decorators = [i + 1 for i, line in enumerate(source.split(b"\n")) if line.strip().startswith(b"@")]
        for _ in range(40):
            picked = rng.sample(range(1, count + 1), rng.randrange(1, min(count, 12)))
            picked += rng.sample(decorators, min(len(decorators), rng.randrange(0, 3)))
            added = set(picked[::2])
            removed_at = set(picked[1::2])
            near = codeindex.change_facts("pkg/mod.py", source, added, removed_at, (), test_file=False)
            full = codeindex.change_facts("pkg/mod.py", source, added, removed_at, (), test_file=True)
            assert (near.changed, near.added) == (full.changed, full.added), sorted(picked)


# ---------------------------------------------------------------------------------------------
# The same reading through the language boundary (swegen.languages.python.LANGUAGE)


def test_python_behind_the_boundary_reads_as_its_syntax_module_does():
    from swegen import languages
    from swegen.languages.python import LANGUAGE

    assert languages.for_path(P) is LANGUAGE and languages.for_path("pkg/Mod.PY") is LANGUAGE
    assert languages.for_path("x.js").name == "javascript" and not LANGUAGE.owns("x.txt")
    cases = LANGUAGE.tests_in(P, TESTS)
    assert [c.test_id for c in cases] == test_node_ids(P, TESTS)
    by_id = {c.test_id: c for c in cases}
    method = by_id[f"{P}::TestLedger::test_method"]
    assert method.start_line == line_of(TESTS, "def test_method") and method.end_line == line_of(TESTS, "self.helper() == 1")
    # the protocol's touched tests come from the two versions alone: a changed parametrize list
    # (module data) touches the test using it, as the diff's lines do
    changed = TESTS.replace(b"RATES = [1, 2]", b"RATES = [1, 2, 3]")
    assert LANGUAGE.touched_tests(P, TESTS, changed) == ids("test_param")
    line = line_of(changed, "RATES = [1, 2, 3]")
    assert LANGUAGE.touched_tests(P, TESTS, changed) == touched_tests(P, TESTS, changed, {line}, {line})
    assert LANGUAGE.change_facts(P, changed, {line}, {line}, ["RATES = [1, 2]"]).touched_tests == tuple(ids("test_param"))
    helper = TESTS.replace(b'return {"balance": 0}', b'return {"balance": 1}')
    assert LANGUAGE.touched_tests(P, TESTS, helper) == ids("test_plain", "test_uses_fixture")
    assert LANGUAGE.changed_definitions("pkg/m.py", b"def f():\n    return 1\n", b"def f():\n    return 2\n") == ["f"]
    assert LANGUAGE.added_definitions("pkg/m.py", b"def f():\n    return 1\n", b"def f():\n    return 1\n\ndef g():\n    pass\n") == ["g"]
    assert LANGUAGE.test_files_for([f"{P}::test_plain", f"{P}::TestLedger::test_method", "b/test_b.py::t[x::y]"], []) == [P, "b/test_b.py"]


def test_python_plants_canaries_and_names_its_command_through_the_boundary():
    import random

    from swegen.languages.base import Plan, describe_plan
    from swegen.images import EnvRecipe
    from swegen.languages.python import LANGUAGE
    from swegen.languages.python.run import JUNIT_PATH

    text, planted = LANGUAGE.plant_canaries(P, TESTS.decode(), [f"{P}::TestLedger::test_method"], random.Random(3))
    assert len(planted) == 4 and {c.must_pass for c in planted} == {True, False}
    assert all(c.test_id.startswith(f"{P}::TestLedger::") for c in planted)
    assert set(test_node_ids(P, text.encode())) - set(test_node_ids(P, TESTS)) == {c.test_id for c in planted}
    plan = Plan(language="python", recipe=EnvRecipe(base_image="swegen-base:py3.11"), runtime=("python", "3.11"), manager="uv",
                runner="pytest", as_of="2024-01-01T00:00:00Z", runner_args=("-p", "no:randomly"), package="ledger")
    command = LANGUAGE.test_command(plan, [P])
    assert command.report_path == JUNIT_PATH and JUNIT_PATH in command.command and "no:randomly" in command.command
    assert "SWEGEN_PRETEND_VERSION=" in LANGUAGE.install_command(plan)
    shown = describe_plan(plan)
    assert "python: 3.11" in shown and "test runner: pytest" in shown and "dependencies as of: 2024-01-01" in shown
