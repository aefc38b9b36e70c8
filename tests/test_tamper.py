"""Canaries and the result stream flag a run whose results were rewritten, and pass an honest one.

Real pytest runs on files in tmp_path, with swegen's own stream plugin loaded as the sandbox loads
it (its folder on PYTHONPATH, a descriptor for the stream, a nonce file it deletes).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from swegen.canaries import verdict

from swegen.languages.python.canaries import plant
from swegen.resources import sandbox_file
from swegen.languages.python.run import DUPLICATES, _failing_cases, cross_check, parse_junit, read_stream

MODULE_STYLE = """import pytest


def test_parse_amount_negative():
    assert int("-5") == -5


@pytest.mark.parametrize("text", ["1", "2"])
def test_parse_amount_plain(text):
    assert int(text) > 0
"""

CLASS_STYLE = """import unittest


class TestFormatCents(unittest.TestCase):
    def setUp(self):
        self.value = 3

    def test_format_cents_small(self):
        self.assertEqual(self.value, 3)

    def test_format_cents_large(self):
        self.assertTrue(self.value)


if __name__ == "__main__":
    unittest.main()
"""

FORCE_PASS = """import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""


def run(tmp_path: Path, files: list[str], nonce: str = "n0nce") -> tuple[dict[str, str], dict[str, str], str, int, int]:
    """(JUnit statuses, collection errors, stream text, exit code, failing JUnit cases) of a real run."""
    junit = tmp_path / "junit.xml"
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "swegen_stream.py").write_bytes(sandbox_file("swegen_stream.py").read_bytes())
    nonce_file = tmp_path / ".nonce"
    nonce_file.write_text(nonce)
    read, write = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(plugin_dir), "SWEGEN_STREAM_FD": str(write), "SWEGEN_STREAM_NONCE_FILE": str(nonce_file)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "swegen_stream", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
         f"--junitxml={junit}", "-q", *files],
        cwd=tmp_path, env=env, capture_output=True, text=True, pass_fds=(write,),
    )
    os.close(write)
    with os.fdopen(read) as handle:
        stream = handle.read()
    assert not nonce_file.exists(), "the plugin must delete the nonce file once read"
    xml = junit.read_text()
    statuses, errors = parse_junit(xml)
    return statuses, errors, stream, proc.returncode, _failing_cases(xml)


@pytest.mark.parametrize("style,ids", [
    (MODULE_STYLE, ["tests/test_money.py::test_parse_amount_negative"]),
    (CLASS_STYLE, ["tests/test_money.py::TestFormatCents::test_format_cents_small"]),
])
def test_an_honest_run_passes_and_a_forged_one_is_flagged(tmp_path, style, ids):
    (tmp_path / "tests").mkdir()
    source_before = style
    text, planted = plant("tests/test_money.py", style, ids, random.Random(7))
    assert len(planted) == 4 and sum(c.must_pass for c in planted) == 2
    assert text.startswith(source_before.rstrip("\n")) or "class TestFormatCents" in text
    (tmp_path / "tests" / "test_money.py").write_text(text)
    statuses, errors, stream, code, failing = run(tmp_path, ["tests/test_money.py"])
    assert code == 1  # the must-fail canaries fail
    assert all(statuses[i] == "PASSED" for i in ids)
    assert verdict(planted, statuses, errors, resolved=True) is None
    streamed, problem = read_stream(stream, "n0nce")
    assert problem is None and cross_check(streamed, statuses, failing) is None
    assert set(streamed) == set(statuses)  # the stream's ids are the JUnit ids here
    # the same run with a plugin that forces every report to pass
    (tmp_path / "tests" / "conftest.py").write_text(FORCE_PASS)
    statuses, errors, stream, code, failing = run(tmp_path, ["tests/test_money.py"])
    assert code == 0 and all(s == "PASSED" for s in statuses.values())
    assert "must fail" in verdict(planted, statuses, errors, resolved=True)


def test_canary_names_look_like_the_files_own_tests(tmp_path):
    text, planted = plant("tests/test_money.py", MODULE_STYLE, [], random.Random(3))
    words = {"parse", "amount", "negative", "plain", "value", "result", "case", "input", "output", "basic", "empty", "single", "order", "format"}
    for canary in planted:
        name = canary.test_id.rsplit("::", 1)[1]
        assert name.startswith("test_") and set(name[5:].split("_")) <= words, name
    assert len({c.test_id for c in planted}) == 4


def test_original_tests_keep_their_ids(tmp_path):
    (tmp_path / "tests").mkdir()
    path = tmp_path / "tests" / "test_money.py"
    path.write_text(CLASS_STYLE)

    def collected() -> set[str]:
        out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
                             cwd=tmp_path, capture_output=True, text=True).stdout
        return {line for line in out.splitlines() if "::" in line}

    before = collected()
    text, planted = plant("tests/test_money.py", CLASS_STYLE, ["tests/test_money.py::TestFormatCents::test_format_cents_small"], random.Random(1))
    path.write_text(text)
    assert collected() == before | {c.test_id for c in planted}


def test_parametrized_classes_and_modules_get_no_canaries():
    decorated = "import pytest\n\n\n@pytest.mark.parametrize('x', [1])\nclass TestA:\n    def test_a(self, x):\n        assert x\n"
    text, planted = plant("t.py", decorated, ["t.py::TestA::test_a"], random.Random(1))
    assert planted == [] or all(c.test_id.count("::") == 1 for c in planted)
    marked = "import pytest\n\npytestmark = pytest.mark.parametrize('x', [1])\n\n\ndef test_a(x):\n    assert x\n"
    assert plant("t.py", marked, ["t.py::test_a"], random.Random(1)) == (marked, [])
    assert plant("t.py", "def broken(:\n", ["t.py::test_a"], random.Random(1)) == ("def broken(:\n", [])


def test_missing_canaries_are_tampering_unless_their_file_did_not_import():
    _, planted = plant("tests/test_a.py", MODULE_STYLE, [], random.Random(2))
    assert "missing" in verdict(planted, {"tests/test_a.py::test_parse_amount_negative": "PASSED"}, {}, resolved=True)
    assert verdict(planted, {}, {"tests/test_a.py": "ImportError"}, resolved=False) is None
    assert verdict(planted, {}, {"tests.test_a": "ImportError"}, resolved=False) is None
    honest = {c.test_id: ("PASSED" if c.must_pass else "FAILED") for c in planted}
    assert verdict(planted, honest, {}, resolved=True) is None
    # a must-pass canary that fails only matters when everything else passed
    broken = {c.test_id: "FAILED" for c in planted}
    assert verdict(planted, broken, {}, resolved=False) is None
    assert "must pass" in verdict(planted, broken, {}, resolved=True)
    # parametrised by an autouse fixture: the canary runs as id[param]
    params = {f"{c.test_id}[a]": ("PASSED" if c.must_pass else "FAILED") for c in planted}
    assert verdict(planted, params, {}, resolved=True) is None


def test_the_stream_rejects_forged_late_and_missing_lines():
    good = ['{"n": "k", "seq": 1, "event": "start"}', '{"n": "k", "seq": 2, "event": "report", "nodeid": "t.py::a", "when": "call", "outcome": "failed"}',
            '{"n": "k", "seq": 3, "event": "end", "exitstatus": 1}']
    assert read_stream("\n".join(good), "k") == ({"t.py::a": "FAILED"}, None)
    assert "forged" in read_stream("\n".join(good), "other")[1]
    assert "forged" in read_stream("\n".join([good[0], good[2]]), "k")[1]  # a gap in the numbers
    late = good + ['{"n": "k", "seq": 4, "event": "report", "nodeid": "t.py::a", "when": "call", "outcome": "passed"}']
    assert "after the session ended" in read_stream("\n".join(late), "k")[1]
    assert "stops before" in read_stream("\n".join(good[:2]), "k")[1]
    assert "never started" in read_stream("", "k")[1]
    assert "not swegen's" in read_stream("PASSED t.py::a", "k")[1]


def test_a_report_that_hides_a_failure_the_stream_saw_is_tampering():
    assert cross_check({"a": "FAILED", "b": "PASSED"}, {"a": "FAILED", "b": "PASSED"}, 1) is None
    assert "did not" in cross_check({"a": "FAILED"}, {"a": "PASSED"}, 0)
    assert "failing" in cross_check({"x": "FAILED"}, {"y": "PASSED"}, 0)  # ids differ: counted
    assert "passing" in cross_check({"a": "PASSED"}, {"a": "PASSED", "forged": "PASSED"}, 0)
    # a report with fewer ids (two streamed tests under one JUnit id) is not tampering
    assert cross_check({"m::a": "PASSED", "n::a": "PASSED"}, {"m::a": "PASSED"}, 0) is None


def test_the_junit_rewrite_attack_is_seen_by_the_stream(tmp_path):
    """The attack of the issue, on a real run: failures stripped from the JUnit file at exit."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_fails():\n    assert 1 == 2\n")
    (tmp_path / "tests" / "conftest.py").write_text(
        "import atexit, os, re, sys\n\n\ndef _rewrite():\n"
        "    path = [a for a in sys.argv if a.startswith('--junitxml=')][0].split('=', 1)[1]\n"
        "    text = re.sub(r'<failure.*?</failure>', '', open(path).read(), flags=re.S)\n"
        "    open(path, 'w').write(text.replace('failures=\"1\"', 'failures=\"0\"'))\n"
        "    os._exit(0)\n\n\natexit.register(_rewrite)\n"
    )
    statuses, errors, stream, code, failing = run(tmp_path, ["tests/test_x.py"])
    assert code == 0 and statuses == {"tests/test_x.py::test_fails": "PASSED"}  # the attack worked on JUnit
    streamed, problem = read_stream(stream, "n0nce")
    assert problem is None and streamed == {"tests/test_x.py::test_fails": "FAILED"}
    assert "did not" in cross_check(streamed, statuses, failing)


def test_unittest_subtests_on_a_real_run(tmp_path):
    """A real pytest run with subTest: the stream agrees with the JUnit file, no duplicate ids."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_sub.py").write_text(
        "import unittest\n\n\nclass TestSub(unittest.TestCase):\n    def test_a(self):\n        for i in range(3):\n"
        "            with self.subTest(i=i):\n                self.assertNotEqual(i, 1)\n\n    def test_b(self):\n"
        "        for i in range(2):\n            with self.subTest(i=i):\n                self.assertTrue(True)\n"
    )
    statuses, errors, stream, code, failing = run(tmp_path, ["tests/test_sub.py"])
    streamed, problem = read_stream(stream, "n0nce")
    assert problem is None and DUPLICATES not in streamed
    assert streamed == {"tests/test_sub.py::TestSub::test_a": "FAILED", "tests/test_sub.py::TestSub::test_b": "PASSED"}
    assert cross_check(streamed, statuses, failing) is None and code == 1
