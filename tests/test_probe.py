"""Contamination is measured two ways, and each can tell a contaminated model from a clean one: the rates by quarter of the fix count every task once, and the memorisation probe (statement alone, no code, against a shuffled-statement baseline) flags exactly the tasks a model reproduces from memory and none for a model that remembers nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from swegen.fake_model import FakeModelServer, memorising_responder
from swegen.probe import ProbeConfig, changed_lines, diff_files, parse_answer, probe, score, shuffled_pairs
from swegen.llm import RetryPolicy
from swegen.reporting import ReportConfig, make_report
from tests.conftest import run_cli
from tests.test_report import load_in_chromium, make_run, pattern

TASKS = 12
RELEASE = "2025-06-01"
#: Tasks whose fix the "memorising" model reproduces: three before its release, one after.
REMEMBERED = {0, 2, 4, 9}


def _gold(i: int) -> str:
    path = f"src/acme/ledger_{i}.py"
    return (f"diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n"
            f"@@ -10,4 +10,4 @@ def balance_{i}(entries):\n     total = 0\n-    for entry in entries[{i}:]:\n"
            f"+    for entry in entries[{i + 1}:]:\n         total += entry.amount_{i}\n-    return total\n"
            f"+    return round(total, {i})\n")


def _date(i: int) -> str:
    # six tasks in the year before the release, six after
    return f"2024-{7 + i:02d}-10T12:00:00Z" if i < 6 else f"2025-{i + 1:02d}-10T12:00:00Z"


def probed_run(root: Path) -> Path:
    """A run with evaluations (so the report can be made) and twelve tasks with distinct fixes."""
    run = make_run(root, {"fake-model": pattern({0, 1}, tasks=TASKS), "gold": pattern(set(range(TASKS)), tasks=TASKS)}, tasks=TASKS)
    tasks = [json.loads(line) for line in (run / "tasks.jsonl").read_text().splitlines()]
    for i, task in enumerate(tasks):
        task.update(patch=_gold(i), created_at=_date(i),
                    problem_statement=f"Balance number {i} is off by one entry when the ledger has more than {i} rows.")
    (run / "tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return run


def _remembering(run: Path, which: set[int]) -> dict[str, str]:
    tasks = [json.loads(line) for line in (run / "tasks.jsonl").read_text().splitlines()]
    return {tasks[i]["problem_statement"]: tasks[i]["patch"] for i in which}


def _ids(which: set[int]) -> list[str]:
    return sorted(f"acme__ledger-{i:03d}" for i in which)


def test_scoring_a_reply():
    gold = _gold(3)
    assert diff_files(gold) == ["src/acme/ledger_3.py"]
    assert ("+", "return round(total, 3)") in changed_lines(gold) and ("-", "return total") in changed_lines(gold)
    files, patch = parse_answer("FILES:\n- `src/acme/ledger_3.py`\nsrc/other.py\n\nPATCH:\n```diff\n" + gold + "```\n")
    assert files == ["src/acme/ledger_3.py", "src/other.py"] and patch == gold
    full = score("FILES:\nsrc/acme/ledger_3.py\n\nPATCH:\n```diff\n" + gold + "```", gold)
    assert (full.file_recall, full.line_overlap) == (1.0, 1.0)
    named_only = score("FILES:\nsrc/acme/ledger_3.py\n", gold)
    assert (named_only.file_recall, named_only.line_overlap) == (1.0, 0.0)
    # half of gold's four changed lines, with other whitespace
    half = score("--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-    return   total\n+    for entry in entries[4:]:\n", gold)
    assert (half.file_recall, half.line_overlap) == (0.0, 0.5)
    assert score("I cannot know this repository.", gold).line_overlap == 0.0
    pairs = shuffled_pairs(["c", "a", "b"])
    assert pairs == {"a": "b", "b": "c", "c": "a"} and all(k != v for k, v in pairs.items())


def test_probe_flags_exactly_the_remembered_tasks_and_the_report_shows_them(tmp_path: Path):
    run = probed_run(tmp_path)
    with FakeModelServer(memorising_responder(_remembering(run, REMEMBERED))) as server:
        proc = run_cli("probe", str(run), "--endpoint", server.base_url, "--model", "fake-model", "--release", RELEASE,
                       env={"COLUMNS": "200"})
        assert proc.returncode == 0, proc.stderr
        sent = [r["body"]["messages"][0]["content"] for r in server.requests if r["body"]]
    assert len(sent) == 2 * TASKS, "one question with the task's own statement, one with another's"
    for prompt in sent:
        assert "acme/ledger" in prompt and "<issue>" in prompt
        assert "diff --git" not in prompt and "entries[" not in prompt and "ledger_" not in prompt, "no code, no path, no patch"
    summary = json.loads((run / "probe" / "fake-model.summary.json").read_text())
    assert summary["recalled_ids"] == _ids(REMEMBERED)
    before, after = summary["sides"][0], summary["sides"][1]
    assert (before["side"], before["tasks"], before["recalled"]) == ("before", 6, 3)
    assert (after["side"], after["tasks"], after["recalled"]) == ("after", 6, 1)
    assert before["file_recall"] == pytest.approx(3 / 6) and before["line_overlap"] == pytest.approx(3 / 6)
    # the shuffled statement of a remembered task brings that task's fix: not this task's file, and of
    # this task's four changed lines only the one every fix shares ("-    return total"); tasks 1 and 3
    # get the statements of remembered tasks 2 and 4
    assert before["file_recall_shuffled"] == 0 and before["line_overlap_shuffled"] == pytest.approx(2 * 0.25 / 6)
    lines = [json.loads(line) for line in (run / "probe" / "fake-model.jsonl").read_text().splitlines()]
    assert len(lines) == TASKS and all(line["shuffled_from"] != line["instance_id"] for line in lines)
    assert "recalled: " + ", ".join(_ids(REMEMBERED)) in proc.stdout
    assert "3 of 6 tasks before its release (2025-06-01) and 1 of 6 after" in proc.stdout

    result = make_report(ReportConfig(run))
    dom, problems, _ = load_in_chromium(result.html, tmp_path)
    assert problems == []
    table = re.search(r'<table id="probe".*?</table>', dom, re.DOTALL).group(0)
    assert table.count("<tr>") == 1 + 2
    verdicts = re.search(r'<ul id="probe-verdicts">.*?</ul>', dom, re.DOTALL).group(0)
    assert sorted(re.findall(r'<code class="recalled">([^<]+)</code>', verdicts)) == _ids(REMEMBERED)
    assert "### Memorisation probe" in result.markdown.read_text()


def test_control_a_model_that_remembers_nothing_is_flagged_on_no_task(tmp_path: Path):
    run = probed_run(tmp_path)
    with FakeModelServer(memorising_responder({})) as server:
        summary = probe(ProbeConfig(run, server.base_url, "clean-model", RELEASE, retry=RetryPolicy(retries=0)))
    assert summary.recalled_ids == ()
    for side in summary.sides[:2]:
        assert side.tasks == 6 and side.recalled == 0
        assert side.file_recall == side.file_recall_shuffled == 0 and side.line_overlap == side.line_overlap_shuffled == 0
    assert "0 of 6 tasks before" in summary.sentence and "not significant" in summary.sentence


def test_control_a_model_that_knows_every_fix_of_the_repo_is_no_memoriser_of_one_task(tmp_path: Path):
    """A model that answers every statement with one task's fix: the baseline, asked with other statements,
    gets the same answer, so only the task whose gold it is counts (and the margin is what makes it so)."""
    run = probed_run(tmp_path)
    one_fix = _gold(5)
    with FakeModelServer(lambda messages, model: "FILES:\nsrc/acme/ledger_5.py\n\nPATCH:\n```diff\n" + one_fix + "```") as server:
        summary = probe(ProbeConfig(run, server.base_url, "parrot", RELEASE, retry=RetryPolicy(retries=0)))
    # its answer is task 5's gold every time, but the shuffled answer is the same: no margin, nothing recalled
    assert summary.recalled_ids == ()
    assert summary.sides[0].file_recall == pytest.approx(1 / 6) == summary.sides[0].file_recall_shuffled


def test_endpoint_failures_are_in_no_figure_and_are_asked_again(tmp_path: Path):
    run = probed_run(tmp_path)
    with FakeModelServer(fail_with=503) as server:
        proc = run_cli("probe", str(run), "--endpoint", server.base_url, "--model", "fake-model", "--release", RELEASE,
                       "--retries", "0")
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "probing" not in line]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "failed 5 probes in a row" in proc.stderr, proc.stderr
    written = [json.loads(line) for line in (run / "probe" / "fake-model.jsonl").read_text().splitlines()]
    assert len(written) == 5 and all(w["infra_error"] for w in written)
    with FakeModelServer(memorising_responder(_remembering(run, REMEMBERED))) as server:
        summary = probe(ProbeConfig(run, server.base_url, "fake-model", RELEASE, retry=RetryPolicy(retries=0)))
        asked = len([r for r in server.requests if r["body"]])
    assert asked == 2 * TASKS, "every task asked again, none skipped for its failed line"
    assert summary.infra_errors == 0 and summary.recalled_ids == tuple(_ids(REMEMBERED))
    assert sum(side.tasks for side in summary.sides) == TASKS


def test_bad_probe_options_are_one_line(tmp_path: Path):
    run = probed_run(tmp_path)
    for args in (("--endpoint", "ftp://x", "--model", "m"), ("--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "--release", "soon")):
        proc = run_cli("probe", str(run), *args)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr


# -- the trend over quarters -------------------------------------------------------------------


def test_rates_by_quarter_count_every_task_once_with_empty_quarters_shown(tmp_path: Path):
    # thirty tasks monthly from 2025-01 (make_run): ten quarters of three; tasks 6-8 (2025 Q3) removed
    run = make_run(tmp_path, {"old-model": pattern(set(range(0, 12)) | {20}), "new-model": pattern(set(range(12, 30)), errors={29})})
    lines = (run / "tasks.jsonl").read_text().splitlines()
    (run / "tasks.jsonl").write_text("\n".join(lines[:6] + lines[9:]) + "\n")
    result = make_report(ReportConfig(run, release={"old-model": "2025-10-01", "new-model": "2026-04-15"}))
    quarters = result.report.quarters
    labels = [g.label for g in quarters.groups]
    assert labels == ["2025 Q1", "2025 Q2", "2025 Q3", "2025 Q4", "2026 Q1", "2026 Q2", "2026 Q3", "2026 Q4", "2027 Q1", "2027 Q2"]
    assert [g.tasks for g in quarters.groups] == [3, 3, 0, 3, 3, 3, 3, 3, 3, 3]
    assert sum(g.tasks for g in quarters.groups) == 27
    cells = {g.label: {c.model: (c.resolved, c.graded) for c in g.cells} for g in quarters.groups}
    assert cells["2025 Q1"]["old-model"] == (3, 3) and cells["2025 Q4"]["old-model"] == (3, 3)
    assert cells["2026 Q1"]["old-model"] == (0, 3) and cells["2026 Q3"]["old-model"] == (1, 3)
    assert cells["2027 Q2"]["new-model"] == (2, 2), "the infrastructure error leaves its quarter's count"
    assert cells["2025 Q3"]["old-model"] == (0, 0)
    dom, problems, _ = load_in_chromium(result.html, tmp_path)
    assert problems == []
    table = re.search(r'<table id="quarters".*?</table>', dom, re.DOTALL).group(0)
    assert table.count("<tr>") == 1 + 10
    plot = re.search(r'<svg id="plot-trend".*?</svg>', dom, re.DOTALL).group(0)
    assert plot.count("<polyline") == 2 and plot.count('class="release"') == 2
    assert plot.count("<circle") == 9 + 9, "a dot per quarter with graded tasks, per model"
    assert "### Resolution by quarter of the fix" in result.markdown.read_text()
    proc = run_cli("report", str(run), env={"COLUMNS": "200"})
    assert proc.returncode == 0 and "resolution by quarter of the fix" in proc.stdout
