"""The strict verdict catches a patch that passes the task's tests but breaks what gold keeps.

SWE-bench's rule only looks at the tests of the files the fix touched. A constructed patch does
the real fix and also breaks money formatting, which those tests never call: it is resolved under
the SWE-bench rule and not under the strict one, with the broken tests named. Gold is
strict-resolved on every task of the example (its own whole suite against itself, run twice).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli
from test_evaluate import lines, results, tasks_by_change, write_predictions

pytestmark = pytest.mark.docker


def _wrong_but_passing(out: Path, task: dict, scratch: Path) -> str:
    repo = json.loads((out / "run.json").read_text())["repo_path"]
    subprocess.run(["git", "clone", "-q", repo, str(scratch)], check=True)
    subprocess.run(["git", "-C", str(scratch), "checkout", "-q", task["base_commit"]], check=True)
    subprocess.run(["git", "-C", str(scratch), "apply", "-"], input=task["patch"], text=True, check=True)
    money = scratch / "src" / "ledger" / "money.py"
    text = money.read_text()
    assert 'f"{units:,}.{rest:02d}"' in text
    money.write_text(text.replace('f"{units:,}.{rest:02d}"', 'f"{units}.{rest:02d}"'))  # no thousands separators
    return subprocess.run(["git", "-C", str(scratch), "diff"], capture_output=True, text=True, check=True).stdout


def test_a_wrong_but_passing_patch_is_resolved_but_not_strictly(demo_run, tmp_path):
    out, _ = demo_run
    task = tasks_by_change(out)["fix-between-inclusive"]
    iid = task["instance_id"]
    patch = _wrong_but_passing(out, task, tmp_path / "w")
    predictions = write_predictions(tmp_path / "p.jsonl", "wrong-but-passing", {iid: patch})
    proc = run_cli("evaluate", str(out), "-p", str(predictions), "--instance", iid, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    row = results(out, "wrong-but-passing")[iid]
    assert row["status"] == "resolved" and row["resolved"], row  # the SWE-bench rule
    assert row["strict_resolved"] is False and "breaks" in row["strict_reason"], row
    assert any(t.startswith("tests/test_money.py::test_format_cents") for t in row["regressions"]), row
    summary = json.loads((out / "evaluations" / "wrong-but-passing" / "summary.json").read_text())
    assert summary["resolved_ids"] == [iid] and summary["strict_resolved_ids"] == [] and summary["breaks_tests_ids"] == [iid]


def test_gold_is_strictly_resolved_on_every_example_task(demo_run):
    out, _ = demo_run
    gold = results(out, "gold")
    task_ids = sorted(t["instance_id"] for t in lines(out / "tasks.jsonl"))
    assert sorted(gold) == task_ids
    for iid in task_ids:
        assert gold[iid]["status"] == "resolved" and gold[iid]["strict_resolved"] is True, gold[iid]
    # the scripted agent's honest fixes keep the whole suite too
    scripted = results(out, "scripted-agent")
    assert all(r["strict_resolved"] is True for r in scripted.values() if r["status"] == "resolved")


ORDER_DEPENDENT = '''diff --git a/tests/test_zz_order.py b/tests/test_zz_order.py
new file mode 100644
--- /dev/null
+++ b/tests/test_zz_order.py
@@ -0,0 +1,6 @@
+import sys
+
+
+def test_passes_only_after_the_other_test_modules():
+    others = {name for name in sys.modules if name.rpartition(".")[2].startswith("test_")} - {__name__}
+    assert len(others) >= 4, others
'''


def test_a_test_that_passed_with_gold_only_by_luck_is_not_a_regression(demo_run, tmp_path):
    """Gold's whole-suite run is one draw: a test that passed there but does not pass with gold in
    each confirmation run (here one that passes only after all other modules ran, as order-dependent
    tests do) is flaky, not broken by the candidate; a test that keeps passing with gold stays a
    regression (the control)."""
    from swegen import strict
    from swegen.sandbox import Limits
    from swegen.testbed import Environments

    out, _ = demo_run
    task = tasks_by_change(out)["fix-between-inclusive"]
    repo = Path(json.loads((out / "run.json").read_text())["repo_path"])
    bed, _, error = Environments(out, repo).testbed(task, Limits())
    assert error is None, error
    test_patch = task["test_patch"] + ORDER_DEPENDENT
    gold = strict.gold_suite(tmp_path, bed, task["patch"], test_patch, task["FAIL_TO_PASS"], 600)
    lucky = "tests/test_zz_order.py::test_passes_only_after_the_other_test_modules"
    stable = next(t for t, s in sorted(gold.statuses.items()) if t.startswith("tests/test_money.py::") and s == "PASSED")
    assert gold.problem is None and gold.statuses[lucky] == "PASSED", gold
    candidate = strict.Suite({**gold.statuses, lucky: "FAILED", stable: "FAILED"}, None)
    assert strict.compare(gold, candidate).regressions == sorted([lucky, stable])  # before confirmation
    confirmed = strict.confirm(tmp_path, bed, task["patch"], test_patch, task["FAIL_TO_PASS"], 600, gold, [lucky, stable])
    assert confirmed.flaky == [lucky], confirmed.flaky
    assert strict.compare(confirmed, candidate).regressions == [stable]
    # kept with gold's suite: the next candidate is not charged with it either
    again = strict.gold_suite(tmp_path, bed, task["patch"], test_patch, task["FAIL_TO_PASS"], 600)
    assert again.flaky == [lucky] and again.statuses == gold.statuses


def test_validations_flaky_tests_are_never_regressions():
    from swegen import strict

    gold = strict.Suite({"t::a": "PASSED", "t::b": "PASSED"}, None, flaky=["t::a"])
    verdict = strict.compare(gold, strict.Suite({"t::a": "FAILED", "t::b": "PASSED"}, None))
    assert verdict.resolved is True and verdict.regressions == []
    verdict = strict.compare(gold, strict.Suite({"t::a": "FAILED", "t::b": "FAILED"}, None))
    assert verdict.resolved is False and verdict.regressions == ["t::b"]
