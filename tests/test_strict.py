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
