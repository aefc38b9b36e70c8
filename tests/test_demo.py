"""`swegen demo` mines and validates the example end to end: exactly its real fixes become tasks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from swegen.example import load_manifest

pytestmark = pytest.mark.docker


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def by_subject(out: Path) -> dict[str, dict]:
    ids = {row["instance_id"]: row["subject"] for row in lines(out / "candidates.jsonl")}
    return {ids[row["instance_id"]]: row for row in lines(out / "validation.jsonl")}


def test_demo_prints_where_outputs_are(demo_run):
    out, stdout = demo_run
    assert f"outputs in {out}" in stdout.replace("\n", "")
    assert "validation funnel" in stdout and "mining funnel" in stdout
    assert json.loads((out / "demo.json").read_text())["command"] == "demo"
    html = out / "report" / "report.html"
    assert f"report: {html}" in stdout.replace("\n", "") and html.is_file()
    assert "not built yet" not in stdout


def test_demo_ends_with_exactly_the_real_fixes_and_their_fail_to_pass(demo_run):
    out, _ = demo_run
    manifest = [c for c in load_manifest()["changes"] if c["expected"] == "task"]
    tasks = {t["instance_id"]: t for t in lines(out / "tasks.jsonl")}
    verdicts = by_subject(out)
    assert len(tasks) == len(manifest) == 7
    for change in manifest:
        verdict = verdicts[change["subject"]]
        assert verdict["kept"], verdict["reason"]
        assert sorted(verdict["FAIL_TO_PASS"]) == sorted(change["fail_to_pass"])
        task = tasks[verdict["instance_id"]]
        assert task["FAIL_TO_PASS"] == verdict["FAIL_TO_PASS"] and task["PASS_TO_PASS"] == verdict["PASS_TO_PASS"]


def test_the_flaky_test_is_in_neither_list(demo_run):
    out, _ = demo_run
    flaky = {t for c in load_manifest()["changes"] for t in c.get("flaky_tests") or []}
    assert flaky
    for task in lines(out / "tasks.jsonl"):
        assert not flaky & set(task["FAIL_TO_PASS"]) and not flaky & set(task["PASS_TO_PASS"])


def test_the_fix_whose_test_already_passed_is_rejected_with_that_reason(demo_run):
    out, _ = demo_run
    (change,) = [c for c in load_manifest()["changes"] if c["expected"] == "reject:no-fail-to-pass"]
    verdict = by_subject(out)[change["subject"]]
    assert not verdict["kept"] and verdict["reason"].startswith("no-fail-to-pass")
    summary = json.loads((out / "validation_summary.json").read_text())
    assert summary["funnel"]["candidates"] == 8 and summary["funnel"]["kept"] == 7
    assert summary["rejections"] == {"no-fail-to-pass": 1}


def test_logs_of_every_run_are_kept(demo_run):
    out, _ = demo_run
    for task in lines(out / "tasks.jsonl"):
        logs = out / task["instance_id"] / "logs"
        names = {p.name for p in logs.iterdir()}
        assert {"before-1.txt", "before-2.txt", "after-1.txt", "after-3.txt", "control-gold-1.txt", "control-empty-1.txt"} <= names
    assert any((out / "envs").glob("*.log"))


@pytest.mark.slow  # test_crash kills validation at random moments, and mine's validation too
def test_a_killed_validation_resumes_to_the_same_tasks(demo_run, tmp_path):
    out, _ = demo_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("validation.jsonl", "tasks.jsonl", "validation_summary.json", "logs"))
    command = [sys.executable, "-m", "swegen", "validate", str(copy), "--repo", str(out / "repo")]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and not ((copy / "validation.jsonl").exists() and (copy / "validation.jsonl").read_text().strip()):
        time.sleep(0.5)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    partial = lines(copy / "validation.jsonl")
    assert 1 <= len(partial) < 5, "killed in the middle"
    assert not (copy / "tasks.jsonl").exists()
    assert run_cli("clean").returncode == 0  # the killed run could not remove its containers
    resumed = run_cli("validate", str(copy), "--repo", str(out / "repo"), "--workers", "2", timeout=1800)
    assert resumed.returncode == 0, resumed.stderr
    rows = lines(copy / "validation.jsonl")
    assert sorted(r["instance_id"] for r in rows) == sorted({r["instance_id"] for r in rows}), "no duplicates"
    assert (copy / "tasks.jsonl").read_text() == (out / "tasks.jsonl").read_text()


def test_export_writes_swebench_jsonl_and_parquet(demo_run, tmp_path):
    import pyarrow.parquet as pq

    out, _ = demo_run
    proc = run_cli("export", str(out), "--format", "swebench", "-o", str(tmp_path / "ds"))
    assert proc.returncode == 0, proc.stderr
    rows = lines(tmp_path / "ds.jsonl")
    table = pq.read_table(tmp_path / "ds.parquet").to_pylist()
    assert rows == table and len(rows) == 7
    fields = ["repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement", "hints_text",
              "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS", "environment_setup_commit"]
    assert list(rows[0]) == fields
    tasks = {t["instance_id"]: t for t in lines(out / "tasks.jsonl")}
    for row in rows:
        assert isinstance(row["FAIL_TO_PASS"], str) and json.loads(row["FAIL_TO_PASS"]) == tasks[row["instance_id"]]["FAIL_TO_PASS"]
        assert row["repo"] == "swegen-example/ledger"


def test_a_fresh_demo_report_shows_the_headline_in_chromium(demo_run, tmp_path):
    """The private-versus-public plot, the gap chart and the ranking verdict are filled, and the
    page says the public names are stand-ins (a demonstration of the pipeline, not a measurement)."""
    import re

    from swegen.demo import PUBLIC_STAND_INS
    from tests.test_report import load_in_chromium

    out, _ = demo_run
    dom, problems, _ = load_in_chromium(out / "report" / "report.html", tmp_path)
    assert problems == []
    scatter = re.search(r'<svg id="plot-private-public".*?</svg>', dom, re.DOTALL).group(0)
    assert scatter.count("<circle") == len(PUBLIC_STAND_INS)
    gaps = re.search(r'<svg id="plot-gap".*?</svg>', dom, re.DOTALL).group(0)
    assert gaps.count('class="bar"') == len(PUBLIC_STAND_INS)
    verdict = re.search(r'<p id="verdict" class="verdict ([^"]+)">(.*?)</p>', dom, re.DOTALL)
    assert verdict.group(1) != "cannot-tell" and "The public ranking" in verdict.group(2), verdict.group(0)
    assert "No model has a public score" not in dom and "no gap to draw" not in dom
    note = re.search(r'<p id="demo-note".*?</p>', dom, re.DOTALL).group(0)
    assert "not a measurement" in note
    for name, skill in PUBLIC_STAND_INS:
        assert f"{name} = swegen's scripted agent, --skill {skill}" in note


def test_no_demo_statement_holds_a_line_of_its_test_patch_or_fix(demo_run):
    from swegen.restate import statement_leaks

    out, _ = demo_run
    assert statement_leaks(out) == {}
    tasks = lines(out / "tasks.jsonl")
    assert all(t["statement_quality"] in ("ok", "thin") for t in tasks), [t["statement_quality_reasons"] for t in tasks]
    assert all("test_failure" in t["statement_sources"] for t in tasks)
    assert all("## Failing test output" in t["problem_statement"] for t in tasks)
