"""Grading and test classification are pure functions that follow SWE-bench's status rules exactly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from swegen.grading import grade
from swegen.languages.python.run import contradiction, parse_junit, pytest_command
from swegen.validating import classify, funnel

F2P = ["t.py::test_fix"]
P2P = ["t.py::test_old"]


def test_resolved_only_when_every_listed_test_passes():
    assert grade({"t.py::test_fix": "PASSED", "t.py::test_old": "PASSED"}, F2P, P2P).resolved
    assert grade({"t.py::test_fix": "XFAIL", "t.py::test_old": "PASSED"}, F2P, P2P).resolved
    assert not grade({"t.py::test_fix": "FAILED", "t.py::test_old": "PASSED"}, F2P, P2P).resolved
    assert not grade({"t.py::test_fix": "PASSED", "t.py::test_old": "ERROR"}, F2P, P2P).resolved
    assert not grade({"t.py::test_old": "PASSED"}, F2P, P2P).resolved, "a missing test fails"


def test_skipped_fail_to_pass_fails_but_skipped_pass_to_pass_does_not():
    skipped_fix = grade({"t.py::test_fix": "SKIPPED", "t.py::test_old": "PASSED"}, F2P, P2P)
    assert not skipped_fix.resolved and skipped_fix.FAIL_TO_PASS.failure == F2P
    skipped_old = grade({"t.py::test_fix": "PASSED", "t.py::test_old": "SKIPPED"}, F2P, P2P)
    assert skipped_old.resolved and skipped_old.PASS_TO_PASS.failure == []


def test_an_infrastructure_error_is_never_resolved_and_is_reported_apart():
    result = grade({"t.py::test_fix": "PASSED", "t.py::test_old": "PASSED"}, F2P, P2P, infra_error="no report")
    assert not result.resolved and result.infra_error == "no report"
    assert set(result.tests_status()) == {"FAIL_TO_PASS", "PASS_TO_PASS", "FAIL_TO_FAIL", "PASS_TO_FAIL"}


def test_classify_finds_fail_to_pass_pass_to_pass_and_flaky():
    before = [{"a": "FAILED", "b": "PASSED", "c": "FAILED", "d": "PASSED"}, {"a": "FAILED", "b": "PASSED", "c": "PASSED", "d": "PASSED"}]
    after = [{"a": "PASSED", "b": "PASSED", "c": "PASSED", "d": "FAILED"}] * 3
    f2p, p2p, flaky = classify(before, after)
    assert (f2p, p2p, flaky) == (["a"], ["b"], ["c"])
    # a test missing before (its file could not import) and passing after is FAIL_TO_PASS
    assert classify([{}, {}], [{"new": "PASSED"}] * 3)[0] == ["new"]
    # one flip after the fix is enough to call a test flaky
    assert classify([{"x": "FAILED"}] * 2, [{"x": "PASSED"}, {"x": "FAILED"}, {"x": "PASSED"}])[2] == ["x"]


def test_funnel_counts_each_step_reached():
    rows = [
        {"instance_id": "a", "kept": True, "step": "kept"},
        {"instance_id": "b", "kept": False, "step": "patches apply", "reason": "no-fail-to-pass: x"},
        {"instance_id": "c", "kept": False, "step": "candidates", "reason": "env-build-failed: y", "infra_error": False},
    ]
    summary = funnel(rows)
    assert summary["funnel"]["candidates"] == 3 and summary["funnel"]["environment built"] == 2
    assert summary["funnel"]["has FAIL_TO_PASS"] == 1 and summary["funnel"]["kept"] == 1
    assert summary["rejections"] == {"no-fail-to-pass": 1, "env-build-failed": 1}


def test_junit_report_of_a_real_pytest_run_gives_node_ids_and_statuses(tmp_path):
    tests = tmp_path / "tests"
    (tests / "sub").mkdir(parents=True)
    (tests / "test_a.py").write_text(textwrap.dedent('''
        import pytest
        class TestX:
            def test_ok(self): pass
            @pytest.mark.parametrize("v", [1, 2])
            def test_p(self, v): assert v == 1
            class TestInner:
                def test_in(self): pass
        def test_fail(): assert 0
        @pytest.mark.xfail
        def test_xf(): assert 0
        @pytest.mark.xfail(strict=True)
        def test_xps(): pass
        @pytest.mark.skip
        def test_sk(): pass
        @pytest.fixture
        def bad(): raise RuntimeError
        def test_err(bad): pass
    '''))
    (tests / "sub" / "test_b.py").write_text("from nowhere import thing\n")
    command = pytest_command(["tests"], rootdir=str(tmp_path)).replace("python", sys.executable, 1).replace("/tmp/swegen-junit.xml", str(tmp_path / "j.xml"))
    proc = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True)
    statuses, errors = parse_junit((tmp_path / "j.xml").read_text())
    assert statuses == {
        "tests/test_a.py::TestX::test_ok": "PASSED",
        "tests/test_a.py::TestX::test_p[1]": "PASSED",
        "tests/test_a.py::TestX::test_p[2]": "FAILED",
        "tests/test_a.py::TestX::TestInner::test_in": "PASSED",
        "tests/test_a.py::test_fail": "FAILED",
        "tests/test_a.py::test_xf": "XFAIL",
        "tests/test_a.py::test_xps": "XPASS",
        "tests/test_a.py::test_sk": "SKIPPED",
        "tests/test_a.py::test_err": "ERROR",
    }
    assert list(errors) == ["tests/sub/test_b.py"] and "nowhere" in errors["tests/sub/test_b.py"]
    assert proc.returncode == 1 and contradiction(proc.returncode, statuses, errors) is None


def test_a_report_that_contradicts_the_exit_code_is_an_infrastructure_error():
    assert contradiction(0, {"a": "FAILED"}, {}) is not None
    assert contradiction(1, {"a": "PASSED"}, {}) is not None
    assert contradiction(2, {"a": "PASSED"}, {}) is not None
    assert contradiction(0, {"a": "PASSED"}, {}) is None
