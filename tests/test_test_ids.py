"""Every recorded test id is pytest's own: exactly what `pytest --collect-only -q` prints for it.

Verdicts are keyed on test ids, so an id that names two tests (inherited from a mixin in another
module, as the JUnit file names them) or that pytest cannot select would make FAIL_TO_PASS and
PASS_TO_PASS meaningless. A repository built in tmp_path holds every id shape that has gone
wrong somewhere; it runs in the real sandbox.
"""

from __future__ import annotations

import textwrap

import pytest

from gitrepo import GitRepo
from swegen.languages.python.run import DUPLICATES, parse_junit, read_stream, run_pytest
from swegen.sandbox import Limits
from swegen.testbed import Container, Environments, git_archive

SHAPES = {
    "pyproject.toml": '[project]\nname = "shapes"\nversion = "0.1"\n\n[tool.setuptools]\npackages = ["shapes"]\npackage-dir = {"" = "src"}\n',
    "src/shapes/__init__.py": "",
    "src/shapes/core.py": textwrap.dedent('''
        def double(x):
            """Twice x.

            >>> double(2)
            4
            """
            return 2 * x
    '''),
    "tests/mixins.py": textwrap.dedent('''
        class CommonChecks:
            def test_inherited(self):
                assert True

            def test_inherited_fails_in_b(self):
                assert type(self).__name__ != "TestB"
    '''),
    "tests/test_inherit.py": textwrap.dedent('''
        from mixins import CommonChecks


        class TestA(CommonChecks):
            pass


        class TestB(CommonChecks):
            pass
    '''),
    "tests/test_shapes.py": textwrap.dedent('''
        import unittest

        import pytest


        class TestUnit(unittest.TestCase):
            def test_unit(self):
                self.assertEqual(1, 1)


        class TestOuter:
            class TestInner:
                def test_nested(self):
                    assert True


        @pytest.mark.parametrize("value", [1, 2, 3, 4, 5], ids=["with space", "br[ack]et", "ünïcode", "sl/ash", "a::b"])
        def test_params(value):
            assert value


        @pytest.mark.parametrize("text", ["x y", "ü"])
        def test_auto_ids(text):
            assert text
    '''),
    "tests/deep/no_init/test_deep_module.py": "def test_deep():\n    assert True\n",
}
TARGETS = ["tests", "src/shapes/core.py"]
ARGS = ["--doctest-modules"]


@pytest.mark.docker
def test_recorded_ids_are_what_pytest_collects(base_image, tmp_path):
    repo = GitRepo(tmp_path / "shapes")
    base = repo.commit("shapes", SHAPES)
    task = {"instance_id": "shapes-1", "base_commit": base}
    bed, _, error = Environments(tmp_path / "run", repo.path).testbed(task, Limits())
    assert error is None and bed is not None, error
    with Container(bed, git_archive(repo.path, base), "test") as box:
        box.install()
        run = run_pytest(box.box, TARGETS, 300, env=bed.test_env, extra_args=ARGS)
        collected = box.box.exec(
            "python -m pytest --collect-only -q -p no:cacheprovider --rootdir=/testbed --doctest-modules tests src/shapes/core.py",
            timeout=120, env=bed.test_env,
        )
        junit = parse_junit(box.box.get("/tmp/swegen-junit.xml").decode())[0]
    ids = {line for line in collected.stdout.splitlines() if "::" in line}
    assert run.infra_error is None and run.tampered is None, (run.infra_error, run.tampered, run.output[-2000:])
    assert set(run.statuses) == ids, (sorted(set(run.statuses) ^ ids), run.output[-2000:])
    assert len(ids) == 15
    assert run.statuses["tests/test_inherit.py::TestA::test_inherited_fails_in_b"] == "PASSED"
    assert run.statuses["tests/test_inherit.py::TestB::test_inherited_fails_in_b"] == "FAILED"
    assert run.statuses["src/shapes/core.py::shapes.core.double"] == "PASSED"
    # the control: the JUnit file alone names the inherited tests by the mixin's module, so the
    # four of them collapse into two ids and one of the two outcomes is lost
    assert len([t for t in junit if "inherited" in t]) < 4


def test_two_results_under_one_id_are_an_error_of_ours_never_merged():
    lines = [
        '{"n": "k", "seq": 1, "event": "start"}',
        '{"n": "k", "seq": 2, "event": "report", "nodeid": "t.py::a", "when": "call", "outcome": "passed"}',
        '{"n": "k", "seq": 3, "event": "report", "nodeid": "t.py::a", "when": "call", "outcome": "failed"}',
        '{"n": "k", "seq": 4, "event": "end", "exitstatus": 1}',
    ]
    statuses, problem = read_stream("\n".join(lines), "k")
    assert problem is None and statuses[DUPLICATES] == "t.py::a"
    # a rerun plugin's "rerun" report is replaced by the next attempt: not a duplicate
    rerun = [lines[0], lines[1].replace('"passed"', '"rerun"'), lines[2].replace('"failed"', '"passed"'), lines[3]]
    statuses, problem = read_stream("\n".join(rerun), "k")
    assert problem is None and statuses == {"t.py::a": "PASSED"}


def test_subtests_report_under_their_tests_id_without_being_duplicates():
    """pytest 9 reports each unittest subTest under its test's id: one test, failed when one fails."""
    lines = [
        '{"n": "k", "seq": 1, "event": "start"}',
        '{"n": "k", "seq": 2, "event": "report", "nodeid": "t.py::T::a", "when": "setup", "outcome": "passed"}',
        '{"n": "k", "seq": 3, "event": "report", "nodeid": "t.py::T::a", "when": "call", "outcome": "passed", "sub": true}',
        '{"n": "k", "seq": 4, "event": "report", "nodeid": "t.py::T::a", "when": "call", "outcome": "failed", "sub": true}',
        '{"n": "k", "seq": 5, "event": "report", "nodeid": "t.py::T::a", "when": "call", "outcome": "passed"}',
        '{"n": "k", "seq": 6, "event": "report", "nodeid": "t.py::T::b", "when": "call", "outcome": "passed", "sub": true}',
        '{"n": "k", "seq": 7, "event": "report", "nodeid": "t.py::T::b", "when": "call", "outcome": "passed"}',
        '{"n": "k", "seq": 8, "event": "end", "exitstatus": 1}',
    ]
    assert read_stream("\n".join(lines), "k") == ({"t.py::T::a": "FAILED", "t.py::T::b": "PASSED"}, None)
