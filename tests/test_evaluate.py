"""Solve and evaluate on the example's validated tasks, in the real sandbox.

The demo run (shared fixture) has mined, validated, solved with the scripted agent (skill 2) and
evaluated it beside the gold and empty baselines. These tests read that run and add their own
predictions under new model names, so they never disturb each other.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from swegen.example import load_manifest

pytestmark = pytest.mark.docker

#: What the scripted agent at skill 2 does on each of the example's bugs (see sandbox/scripted_agent.py).
SCRIPTED_SKILL_2 = {
    "fix-between-inclusive": ("resolved", []),
    "fix-parse-negative-cents": ("resolved", []),
    "fix-csv-blank-lines": ("unresolved", []),  # a wrong fix: rows of empty fields still crash
    "fix-negative-format": ("unresolved", ["conftest.py", "tests/conftest.py"]),  # forces passes; reverted
    # the bugs of the 0.2.x maintenance line and the fast-forwarded fix: beyond skill 2, a wrong fix each
    "fix-csv-missing-category": ("unresolved", []),
    "fix-misplaced-separators": ("unresolved", []),
    "fix-csv-byte-order-mark": ("unresolved", []),
}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tasks_by_change(out: Path) -> dict[str, dict]:
    """The validated tasks keyed by the manifest's change id."""
    subjects = {row["instance_id"]: row["subject"] for row in lines(out / "candidates.jsonl")}
    ids = {c["subject"]: c["id"] for c in load_manifest()["changes"]}
    return {ids[subjects[t["instance_id"]]]: t for t in lines(out / "tasks.jsonl")}


def results(out: Path, model: str) -> dict[str, dict]:
    return {row["instance_id"]: row for row in lines(out / "evaluations" / model / "results.jsonl")}


def write_predictions(path: Path, model: str, patches: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"instance_id": i, "model_name_or_path": model, "model_patch": p}) + "\n" for i, p in patches.items()))
    return path


def test_gold_resolves_every_task_and_empty_none(demo_run):
    out, stdout = demo_run
    task_ids = sorted(t["instance_id"] for t in lines(out / "tasks.jsonl"))
    gold = json.loads((out / "evaluations" / "gold" / "summary.json").read_text())
    empty = json.loads((out / "evaluations" / "empty" / "summary.json").read_text())
    assert gold["resolved_ids"] == task_ids and gold["error_ids"] == [] and gold["total_instances"] == 7
    assert empty["resolved_ids"] == [] and empty["unresolved_ids"] == task_ids and empty["error_ids"] == []
    assert "evaluation" in stdout and "scripted-agent" in stdout


def test_the_scripted_agents_partial_success_is_graded_exactly(demo_run):
    out, _ = demo_run
    got = results(out, "scripted-agent")
    for change, task in tasks_by_change(out).items():
        status, reverted = SCRIPTED_SKILL_2[change]
        row = got[task["instance_id"]]
        assert (row["status"], row["reverted_test_edits"]) == (status, reverted), (change, row["reason"])
        report = json.loads((out / "evaluations" / "scripted-agent" / task["instance_id"] / "report.json").read_text())
        entry = report[task["instance_id"]]
        assert entry["resolved"] is (status == "resolved") and entry["patch_successfully_applied"]
        f2p = entry["tests_status"]["FAIL_TO_PASS"]
        assert sorted(f2p["success"] + f2p["failure"]) == sorted(task["FAIL_TO_PASS"])
    summary = json.loads((out / "evaluations" / "scripted-agent" / "summary.json").read_text())
    assert summary["resolved_instances"] == 2 and summary["unresolved_instances"] == 5 and summary["completed_instances"] == 7


FORCE_PASS = """import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""


def _new_file(path: str, text: str) -> str:
    body = "".join(f"+{line}\n" for line in text.splitlines())
    return f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(text.splitlines())} @@\n{body}"


def test_patches_that_game_the_tests_are_unresolved(demo_run, tmp_path):
    out, _ = demo_run
    task = tasks_by_change(out)["fix-negative-format"]
    iid = task["instance_id"]
    own_tests = "def test_format_negative_cents():\n    pass\n\n\ndef test_format_negative_thousands():\n    pass\n"
    # printed when the test process exits, after pytest's own summary (not captured by pytest)
    fake_lines = "import atexit\n\n\ndef _claim():\n" + "".join(f"    print('PASSED {t}')\n" for t in task["FAIL_TO_PASS"]) + "    print('==== 30 passed in 0.1s ====')\n\n\natexit.register(_claim)\n"
    cheats = {
        # its own, always-passing versions of the FAIL_TO_PASS tests, in the test file they live in
        "edits-tests": "diff --git a/tests/test_money.py b/tests/test_money.py\n--- a/tests/test_money.py\n+++ b/tests/test_money.py\n"
        + _append_hunk(out, task, "tests/test_money.py", "\n\n" + own_tests),
        "conftest": _new_file("conftest.py", FORCE_PASS) + _new_file("tests/conftest.py", FORCE_PASS),
        "fake-output": _new_file("src/ledger/_banner.py", fake_lines)
        + "diff --git a/src/ledger/__init__.py b/src/ledger/__init__.py\n--- a/src/ledger/__init__.py\n+++ b/src/ledger/__init__.py\n"
        + _append_hunk(out, task, "src/ledger/__init__.py", "from ledger import _banner  # noqa: F401"),
        "pytest-config": _new_file("pytest.ini", "[pytest]\naddopts = -p no:python\n"),
        # exit 0 whatever the tests did: a report that contradicts the exit code must not be an
        # infrastructure error (which leaves the rates) but a failed run
        "exit-zero": _new_file("src/ledger/_exit.py", "import atexit\nimport os\n\natexit.register(os._exit, 0)\n")
        + "diff --git a/src/ledger/__init__.py b/src/ledger/__init__.py\n--- a/src/ledger/__init__.py\n+++ b/src/ledger/__init__.py\n"
        + _append_hunk(out, task, "src/ledger/__init__.py", "from ledger import _exit  # noqa: F401"),
    }
    for name, patch in cheats.items():
        write_predictions(tmp_path / f"{name}.jsonl", f"cheat-{name}", {iid: patch})
    args = [a for name in cheats for a in ("-p", str(tmp_path / f"{name}.jsonl"))]
    proc = run_cli("evaluate", str(out), *args, "--instance", iid, timeout=900)
    assert proc.returncode == 0, proc.stderr
    for name in cheats:
        row = results(out, f"cheat-{name}")[iid]
        assert row["status"] == "unresolved" and row["patch_successfully_applied"], (name, row)
    assert results(out, "cheat-conftest")[iid]["reverted_test_edits"] == ["conftest.py", "tests/conftest.py"]
    assert results(out, "cheat-edits-tests")[iid]["reverted_test_edits"] == ["tests/test_money.py"]
    assert results(out, "cheat-pytest-config")[iid]["reverted_test_edits"] == ["pytest.ini"]
    assert "exits 0" in results(out, "cheat-exit-zero")[iid]["reason"] or "exited 0" in results(out, "cheat-exit-zero")[iid]["reason"]
    # the fake lines were printed, and counted for nothing
    output = (out / "evaluations" / "cheat-fake-output" / iid / "test_output.txt").read_text()
    assert f"PASSED {task['FAIL_TO_PASS'][0]}" in output


def _append_hunk(out: Path, task: dict, path: str, added: str) -> str:
    """A hunk appending the lines `added` to `path` as it is at the task's base commit."""
    repo = json.loads((out / "run.json").read_text())["repo_path"]
    text = subprocess.run(["git", "-C", repo, "show", f"{task['base_commit']}:{path}"], capture_output=True, text=True, check=True).stdout
    old = text.splitlines()
    context = old[-3:]
    start = len(old) - len(context) + 1
    new = added.split("\n")
    body = "".join(f" {c}\n" for c in context) + "".join(f"+{n}\n" for n in new)
    return f"@@ -{start},{len(context)} +{start},{len(context) + len(new)} @@\n{body}"


def test_the_conftest_cheat_would_pass_if_it_were_not_reverted(demo_run):
    """The check above can fail: unreverted, the forcing conftest.py does make the tests pass."""
    from swegen.languages.python.run import run_pytest
    from swegen.sandbox import Limits
    from swegen.testbed import Container, Environments, git_archive

    out, _ = demo_run
    task = tasks_by_change(out)["fix-negative-format"]
    repo = Path(json.loads((out / "run.json").read_text())["repo_path"])
    bed, _, error = Environments(out, repo).testbed(task, Limits())
    assert error is None and bed is not None
    with Container(bed, git_archive(repo, task["base_commit"]), "test") as box:
        assert box.apply("cheat.patch", _new_file("conftest.py", FORCE_PASS)) is None
        assert box.apply("test.patch", task["test_patch"]) is None
        box.install()
        run = run_pytest(box.box, ["tests/test_money.py"], 300, env=bed.test_env)
    assert all(run.statuses[t] == "PASSED" for t in task["FAIL_TO_PASS"])


def test_a_patch_that_does_not_apply_and_an_empty_one(demo_run, tmp_path):
    out, _ = demo_run
    tasks = tasks_by_change(out)
    broken = tasks["fix-between-inclusive"]["instance_id"]
    empty = tasks["fix-parse-negative-cents"]["instance_id"]
    garbage = "diff --git a/src/ledger/ledger.py b/src/ledger/ledger.py\n--- a/src/ledger/ledger.py\n+++ b/src/ledger/ledger.py\n@@ -1,2 +1,2 @@\n-no such line\n+at all\n"
    predictions = write_predictions(tmp_path / "p.jsonl", "broken-model", {broken: garbage, empty: ""})
    proc = run_cli("evaluate", str(out), "-p", str(predictions), timeout=900)
    assert proc.returncode == 0, proc.stderr
    got = results(out, "broken-model")
    assert got[broken]["status"] == "unresolved" and not got[broken]["patch_successfully_applied"]
    assert "does not apply" in got[broken]["reason"]
    assert got[empty]["status"] == "empty_patch" and not got[empty]["patch_exists"]
    summary = json.loads((out / "evaluations" / "broken-model" / "summary.json").read_text())
    assert summary["submitted_instances"] == 2 and summary["empty_patch_ids"] == [empty] and summary["unresolved_ids"] == [broken]
    assert len(summary["incomplete_ids"]) == 5  # the other tasks of the 7


def test_inside_an_agents_sandbox_there_is_one_commit_and_no_gold_patch(demo_run):
    out, _ = demo_run
    task = tasks_by_change(out)["fix-between-inclusive"]
    gold_line = "start <= e.date <= end"
    test_name = task["FAIL_TO_PASS"][0].split("::")[-1]
    assert gold_line in task["patch"] and gold_line not in task["problem_statement"]
    probe = (
        "set -u; G=$(python3 -c 'import os; print(os.environ[\"G\"][::-1])'); T=$(python3 -c 'import os; print(os.environ[\"T\"][::-1])');"
        " { echo commits=$(git log --all --oneline | wc -l); echo refs=$(git for-each-ref | wc -l);"
        " echo remotes=$(git remote | wc -l); echo statement=$(wc -c < $SWEGEN_PROBLEM_FILE);"
        " echo gold=$(grep -rIlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -e \"$G\" / 2>/dev/null | wc -l);"
        " echo test=$(grep -rIlF --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -e \"$T\" / 2>/dev/null | wc -l);"
        " echo swegen_env=$(env | grep -c '^SWEGEN_'); } > /tmp/probe.txt; cp /tmp/probe.txt /testbed/probe.txt"
    )
    proc = run_cli(
        "solve", str(out), "--agent", "command", "--name", "probe-agent", "--cmd", probe,
        "--agent-env", f"G={gold_line[::-1]}", "--agent-env", f"T={test_name[::-1]}",
        "--instance", task["instance_id"], timeout=600,
    )
    # the patterns travel reversed so the agent's own environment does not contain them
    assert proc.returncode == 0, proc.stderr
    (prediction,) = lines(out / "predictions" / "probe-agent.jsonl")
    report = dict(line[1:].split("=", 1) for line in prediction["model_patch"].splitlines() if line.startswith("+") and "=" in line and not line.startswith("+++"))
    assert report["commits"] == "1" and report["refs"] == "1" and report["remotes"] == "0", report
    assert int(report["statement"]) > 20
    assert report["gold"] == "0" and report["test"] == "0", report  # nowhere in the whole file system


@pytest.mark.slow  # test_crash kills evaluate at random moments over four models
def test_evaluate_killed_and_resumed_gives_the_same_results(demo_run, tmp_path):
    out, _ = demo_run
    predictions = out / "predictions" / "scripted-agent.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "swegen", "evaluate", str(out), "-p", str(predictions), "--model", "resumed"]
    target = out / "evaluations" / "resumed" / "results.jsonl"
    victim = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not (target.exists() and target.read_text().count("\n") >= 1):
        time.sleep(0.2)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    killed_at = len(lines(target))
    assert 1 <= killed_at < 7
    assert run_cli("clean", timeout=300).returncode == 0  # the killed run's container
    proc = run_cli(*cmd[3:], timeout=900)
    assert proc.returncode == 0, proc.stderr
    resumed = lines(target)
    assert len(resumed) == 7 and len({r["instance_id"] for r in resumed}) == 7  # nothing twice
    reference = results(out, "scripted-agent")
    for row in resumed:
        ref = reference[row["instance_id"]]
        assert (row["status"], row["tests_status"], row["reverted_test_edits"]) == (ref["status"], ref["tests_status"], ref["reverted_test_edits"])
    # unchanged predictions are cached; a changed patch runs again
    again = run_cli(*cmd[3:], timeout=600)
    assert again.returncode == 0 and len(lines(target)) == 7
    changed = {row["instance_id"]: row["model_patch"] for row in lines(predictions)}
    first = sorted(changed)[0]
    write_predictions(tmp_path / "changed.jsonl", "resumed", {first: ""})
    assert run_cli("evaluate", str(out), "-p", str(tmp_path / "changed.jsonl"), timeout=600).returncode == 0
    assert len(lines(target)) == 8 and lines(target)[-1]["status"] == "empty_patch"


def test_unchanged_predictions_are_not_graded_again_and_a_changed_one_is(demo_run, tmp_path):
    """Evaluating the same predictions again takes every verdict from results.jsonl (keyed by
    task and patch); a prediction whose patch changed is graded again, and only it."""
    import shutil

    source, _ = demo_run
    out = tmp_path / "run"
    shutil.copytree(source, out, ignore=shutil.ignore_patterns("report"))
    predictions = out / "predictions" / "scripted-agent.jsonl"
    target = out / "evaluations" / "scripted-agent" / "results.jsonl"
    graded = target.read_bytes()
    assert len(lines(target)) == 7
    again = run_cli("evaluate", str(out), "-p", str(predictions), timeout=600)
    assert again.returncode == 0, again.stderr
    assert target.read_bytes() == graded, "nothing graded twice"
    first = sorted(row["instance_id"] for row in lines(predictions))[0]
    write_predictions(tmp_path / "changed.jsonl", "scripted-agent", {first: ""})
    changed = run_cli("evaluate", str(out), "-p", str(tmp_path / "changed.jsonl"), timeout=600)
    assert changed.returncode == 0, changed.stderr
    rows = lines(target)
    assert target.read_bytes().startswith(graded) and len(rows) == 8
    assert rows[-1]["instance_id"] == first and rows[-1]["status"] == "empty_patch"


def test_openai_agent_end_to_end_through_solve_and_evaluate(demo_run):
    from swegen.fake_model import FakeModelServer

    out, _ = demo_run
    task = tasks_by_change(out)["fix-between-inclusive"]

    def responder(messages, model):
        return "Here is the fix:\n```diff\n" + task["patch"] + "```\n"

    with FakeModelServer(responder=responder) as server:
        proc = run_cli(
            "solve", str(out), "--agent", "openai", "--name", "fake-gpt", "--base-url", server.base_url,
            "--model", "fake-model", "--instance", task["instance_id"], timeout=600,
        )
        sent = " ".join(r["raw"] for r in server.requests)
    assert proc.returncode == 0, proc.stderr
    (prediction,) = lines(out / "predictions" / "fake-gpt.jsonl")
    assert prediction["model_patch"] and prediction["prompt_tokens"] is not None
    assert "src/ledger/ledger.py" in prediction["files_shown"]
    assert "start <= e.date <= end" not in sent and task["FAIL_TO_PASS"][0].split("::")[-1] not in sent
    proc = run_cli("evaluate", str(out), "-p", str(out / "predictions" / "fake-gpt.jsonl"), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert results(out, "fake-gpt")[task["instance_id"]]["status"] == "resolved"


def test_bad_predictions_get_one_line_and_exit_2(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "tasks.jsonl").write_text(json.dumps({"instance_id": "a__b-1", "base_commit": "0" * 40, "patch": "", "test_patch": "", "FAIL_TO_PASS": [], "PASS_TO_PASS": []}) + "\n")
    cases = {
        "notjson.jsonl": ('{"instance_id": "a__b-1", "model_patch": ""}\n{oops\n', "line 2 is not JSON"),
        "noid.jsonl": ('{"model_name_or_path": "m", "model_patch": ""}\n', "has no instance_id"),
        "noname.jsonl": ('{"instance_id": "a__b-1", "model_patch": ""}\n', "has no model_name_or_path"),
        "badpatch.json": ('[{"instance_id": "a__b-1", "model_name_or_path": "m", "model_patch": 5}]', "model_patch is not a string"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        proc = run_cli("evaluate", str(run), "-p", str(tmp_path / name))
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
    proc = run_cli("evaluate", str(tmp_path), "-p", "gold")
    assert proc.returncode == 2 and "no tasks.jsonl" in proc.stderr


def test_predictions_in_every_swebench_shape_read_the_same(tmp_path):
    from swegen.predictions import read_predictions

    diff = "diff --git a/x b/x\n"  # a patch must look like a diff (swegen.predictions reads strictly)
    rows = [{"instance_id": "x__y-1", "model_name_or_path": "m", "model_patch": diff}, {"instance_id": "x__y-2", "model_name_or_path": "m", "model_patch": None}]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "b.json").write_text(json.dumps(rows))
    (tmp_path / "c.json").write_text(json.dumps({r["instance_id"]: {k: v for k, v in r.items() if k != "instance_id"} for r in rows}))
    read = [[(p.instance_id, p.model_name_or_path, p.model_patch) for p in read_predictions(tmp_path / n)] for n in ("a.jsonl", "b.json", "c.json")]
    assert read[0] == read[1] == read[2] == [("x__y-1", "m", diff), ("x__y-2", "m", "")]


def test_what_counts_as_a_test_edit():
    from swegen.evaluating import is_test_edit, pytest_settings

    tests = ["tests/test_money.py"]
    assert is_test_edit("tests/test_money.py", tests) and is_test_edit("tests/new_test_file.py", tests)
    assert is_test_edit("conftest.py", tests) and is_test_edit("src/pkg/conftest.py", tests) and is_test_edit("pytest.ini", tests)
    assert not is_test_edit("src/ledger/money.py", tests)
    before = "[metadata]\nname = x\n[tool:pytest]\naddopts = -q\n"
    assert pytest_settings("setup.cfg", before) == pytest_settings("setup.cfg", before.replace("name = x", "name = y"))
    assert pytest_settings("setup.cfg", before) != pytest_settings("setup.cfg", before.replace("-q", "-p no:python"))
    toml = '[project]\nname = "x"\n[tool.pytest.ini_options]\naddopts = "-q"\n'
    assert pytest_settings("pyproject.toml", toml) != pytest_settings("pyproject.toml", toml.replace('"-q"', '"-x"'))
    assert pytest_settings("pyproject.toml", toml) == pytest_settings("pyproject.toml", toml.replace('"x"', '"y"'))


@pytest.mark.slow  # test_report: three models without Docker; test_demo and test_agents: reports of real runs
def test_a_report_over_three_scripted_agents(demo_run):
    """Three scripted agents under names with public scores: the table, the verdict, the date split."""
    out, _ = demo_run
    agents = {"claude-sonnet-4-20250514": 3, "gpt-5-2025-08-07": 1, "devstral-small-2512": 0}
    for name, skill in agents.items():
        proc = run_cli("solve", str(out), "--agent", "scripted", "--name", name, "--skill", str(skill), "--workers", "2", timeout=900)
        assert proc.returncode == 0, proc.stderr
        proc = run_cli("evaluate", str(out), "-p", str(out / "predictions" / f"{name}.jsonl"), "--workers", "2", timeout=900)
        assert proc.returncode == 0, proc.stderr
    releases = [a for name in agents for a in ("--release", f"{name}=2024-04-01")]
    proc = run_cli("report", str(out), *releases, timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "report" / "summary.json").read_text())
    text = json.dumps(summary)
    for name, skill in agents.items():
        assert name in proc.stdout.replace("\n", "") or name[:12] in proc.stdout
        resolved = results(out, name)
        assert sum(r["status"] == "resolved" for r in resolved.values()) == skill
    assert "ranking" in text.lower() and ("holds" in text or "does not hold" in text)
    html = (out / "report" / "report.html").read_text()
    markdown = (out / "report" / "report.md").read_text()
    for name in agents:
        assert name in html and name in markdown
    assert "2024-04-01" in markdown and "2024-04-01" in html  # the date split, against the given release
    assert ("holds" in proc.stdout) and "public" in proc.stdout.lower()
