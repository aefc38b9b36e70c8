"""The report says plainly how each model did here against its public number, counts every task once, and never calls an infrastructure failure "unresolved"."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from swegen.errors import SwegenError
from swegen.reporting import ReportConfig, make_report
from tests.conftest import run_cli

MODELS = ("claude-sonnet-4-20250514", "gpt-5-2025-08-07", "devstral-small-2512")
AREAS = ("src/ledger/ledger.py", "src/ledger/report.py", "cli/main.py", "setup.py")
SOURCES = ("issue", "pr", "commit_message", "rewrite")


def _patch(path: str, lines: int) -> str:
    removed = "".join(f"-old {i}\n" for i in range(lines))
    added = "".join(f"+new {i}\n" for i in range(lines))
    return (f"diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n--- a/{path}\n+++ b/{path}\n"
            f"@@ -1,{lines} +1,{lines} @@\n{removed}{added}")


def _task(i: int) -> dict:
    # Thirty tasks dated monthly from 2025-01 to 2027-06, so every model's release splits them.
    year, month = 2025 + i // 12, i % 12 + 1
    path = AREAS[i % len(AREAS)]
    patch = _patch(path, 1 + i % 7) + (_patch("cli/other.py", 2) if i % 5 == 0 else "")
    return {
        "instance_id": f"acme__ledger-{i:03d}", "repo": "acme/ledger", "base_commit": f"{i:040x}", "patch": patch,
        "test_patch": _patch("tests/test_ledger.py", 2), "problem_statement": f"bug {i}", "hints_text": "",
        "created_at": f"{year}-{month:02d}-15T09:00:00Z", "version": "0.0", "environment_setup_commit": f"{i:040x}",
        "FAIL_TO_PASS": ["tests/test_ledger.py::test_a"], "PASS_TO_PASS": ["tests/test_ledger.py::test_b"],
        "fix_commit": f"{i + 1:040x}", "statement_source": SOURCES[i % len(SOURCES)], "leakage_score": 0.0, "bugfix_score": 0.5,
    }


def _result(model: str, instance_id: str, status: str) -> dict:
    error = "container died" if status == "error" else None
    return {
        "schema_version": 1, "instance_id": instance_id, "model_name_or_path": model, "status": status,
        "resolved": status == "resolved", "patch_exists": status != "empty_patch",
        "patch_successfully_applied": status in ("resolved", "unresolved"), "infra_error": error, "reverted_test_edits": [],
        "tests_status": {k: {"success": [], "failure": []} for k in ("FAIL_TO_PASS", "PASS_TO_PASS", "FAIL_TO_FAIL", "PASS_TO_FAIL")},
        "seconds": 1.5,
    }


def make_run(root: Path, outcomes: dict[str, list[str]], tasks: int = 30, retried: dict[str, list[tuple[int, str]]] | None = None) -> Path:
    """A run folder as validate and evaluate write it: tasks, validation summary, predictions, results."""
    run = root / "run"
    run.mkdir(parents=True)
    ids = []
    with open(run / "tasks.jsonl", "w", encoding="utf-8") as handle:
        for i in range(tasks):
            task = _task(i)
            ids.append(task["instance_id"])
            handle.write(json.dumps(task) + "\n")
    (run / "validation_summary.json").write_text(json.dumps({
        "schema_version": 1, "funnel": {"candidates": tasks + 3, "kept": tasks}, "rejections": {}, "infra_errors": 2, "flaky_tests": 3}))
    for model, statuses in outcomes.items():
        folder = model.replace("/", "__")
        (run / "predictions").mkdir(exist_ok=True)
        with open(run / "predictions" / f"{folder}.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps({"instance_id": iid, "model_name_or_path": model, "model_patch": ""}) + "\n" for iid in ids)
        evaluations = run / "evaluations" / folder
        evaluations.mkdir(parents=True)
        lines = [_result(model, iid, status) for iid, status in zip(ids, statuses)]
        lines += [_result(model, ids[i], status) for i, status in (retried or {}).get(model, [])]
        (evaluations / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        tally = {s: statuses.count(s) for s in ("resolved", "unresolved", "empty_patch", "error")}
        (evaluations / "summary.json").write_text(json.dumps({
            "model_name_or_path": model, "total_instances": tasks, "resolved_instances": tally["resolved"]}))
    return run


def pattern(resolved: set[int], tasks: int = 30, errors: set[int] = frozenset(), empty: set[int] = frozenset()) -> list[str]:
    return ["error" if i in errors else "empty_patch" if i in empty else "resolved" if i in resolved else "unresolved" for i in range(tasks)]


def three_models(root: Path) -> Path:
    """gpt-5 > claude-sonnet-4 > devstral in public (65.0, 64.93, 56.4); here devstral wins clearly."""
    return make_run(root, {
        "claude-sonnet-4-20250514": pattern(set(range(0, 30, 2)), errors={1}),        # 15/29
        "gpt-5-2025-08-07": pattern(set(range(0, 30, 3)), empty={1, 2}),              # 10/30
        "devstral-small-2512": pattern(set(range(27))),                               # 27/30
        "gold": pattern(set(range(30)), errors={29}),
        "empty": pattern(set(), empty=set(range(30))),
    }, retried={"devstral-small-2512": [(28, "error"), (28, "resolved")]})


def test_three_models_report_public_against_private(tmp_path: Path):
    run = three_models(tmp_path)
    result = make_report(ReportConfig(run, release={"gpt-5-2025-08-07": "2025-08-07"}))
    summary = json.loads(result.summary.read_text())
    assert summary["schema_version"] == 1
    models = {m["name"]: m for m in summary["models"]}
    assert set(models) == set(MODELS), "gold and empty are controls, not competitors"
    claude, gpt, devstral = (models[m] for m in MODELS)
    # The infrastructure error leaves the rate: 15 of 29 graded, not 15 of 30.
    assert (claude["counts"]["resolved"], claude["counts"]["graded"], claude["counts"]["errors"]) == (15, 29, 1)
    # Empty patches are graded and unresolved.
    assert (gpt["counts"]["resolved"], gpt["counts"]["graded"]) == (10, 30)
    # The retried task's last line wins: 28 resolved on retry.
    assert (devstral["counts"]["resolved"], devstral["counts"]["graded"], devstral["counts"]["errors"]) == (28, 30, 0)
    for m in models.values():
        assert m["public"]["board"] == "bash-only" and m["public_how"] == "same scaffold (bash-only board)"
        assert m["interval"]["low"] < m["interval"]["rate"] < m["interval"]["high"]
    assert devstral["public"]["percent"] == 56.4 and devstral["gap"]["method"] == "newcombe"
    assert devstral["gap"]["gap"] == pytest.approx(28 / 30 - 282 / 500)
    assert gpt["gap"]["low"] < gpt["gap"]["gap"] < gpt["gap"]["high"] < 0
    ranking = summary["ranking"]
    assert ranking["public_order"] == ["gpt-5-2025-08-07", "claude-sonnet-4-20250514", "devstral-small-2512"]
    assert ranking["private_order"] == ["devstral-small-2512", "claude-sonnet-4-20250514", "gpt-5-2025-08-07"]
    assert ranking["verdict"] == "does not hold" and ranking["tau"] == pytest.approx(-1.0)
    assert "does not hold on this codebase" in ranking["sentence"]
    releases = {d["model"]: d["release"] for d in summary["date_split"]}
    assert releases["gpt-5-2025-08-07"] == {"date": "2025-08-07", "how": "given with --release"}
    assert releases["devstral-small-2512"]["date"] == "2025-12-09"
    assert releases["devstral-small-2512"]["how"].startswith("assumed: earliest public score")
    assert releases["claude-sonnet-4-20250514"]["date"] == "2025-05-22"
    controls = summary["controls"]
    assert controls["gold"]["resolved"] == 29 and controls["gold"]["errors"] == 1
    assert controls["empty"]["resolved"] == 0 and controls["empty"]["graded"] == 30
    assert (controls["flaky_tests_dropped"], controls["validation_infra_errors"]) == (3, 2)
    assert any("too few tasks" in w for w in summary["warnings"])


def test_pairs_date_split_and_breakdowns_count_every_task(tmp_path: Path):
    summary = json.loads(make_report(ReportConfig(three_models(tmp_path))).summary.read_text())
    pairs = {frozenset((p["first"], p["second"])): p["test"] for p in summary["pairs"]}
    assert len(pairs) == 3
    gpt_devstral = pairs[frozenset(("gpt-5-2025-08-07", "devstral-small-2512"))]
    assert gpt_devstral["shared"] == 30 and gpt_devstral["p_value"] < 0.001
    # claude's infrastructure error leaves its pairs one task short.
    assert pairs[frozenset(("claude-sonnet-4-20250514", "gpt-5-2025-08-07"))]["shared"] == 29
    devstral = next(d for d in summary["date_split"] if d["model"] == "devstral-small-2512")
    # Tasks from 2025-01 to 2025-11 came before 2025-12-09: eleven of them, all resolved.
    assert (devstral["before"]["resolved"], devstral["before"]["graded"]) == (11, 11)
    assert devstral["after"]["graded"] == 19
    assert devstral["p_value"] is not None
    assert devstral["sentence"].startswith("devstral-small-2512 does better on fixes older than its release (100.0% against 89.5%")
    assert "not significant at 5%" in devstral["sentence"]
    titles = [b["title"] for b in summary["breakdowns"]]
    assert titles == ["lines changed by the fix", "files changed by the fix", "area of the repository", "statement source",
                      "statement quality", "leakage of the statement as mined"]
    for breakdown in summary["breakdowns"]:
        assert sum(g["tasks"] for g in breakdown["groups"]) == 30
    areas = {g["label"]: g["tasks"] for g in summary["breakdowns"][2]["groups"]}
    assert set(areas) == {"src/ledger", "cli", "(root)"}
    sources = {g["label"]: g for g in summary["breakdowns"][3]["groups"]}
    assert set(sources) == set(SOURCES)
    cell = next(c for c in sources["issue"]["cells"] if c["model"] == "devstral-small-2512")
    assert cell["graded"] == 8


def test_markdown_and_html_show_table_verdict_and_date_split(tmp_path: Path):
    result = make_report(ReportConfig(three_models(tmp_path)))
    markdown = result.markdown.read_text()
    assert "| devstral-small-2512 | 93.3% (28/30) |" in markdown
    assert "The public ranking does not hold on this codebase" in markdown
    assert "## Task date against model release" in markdown and "assumed: earliest public score" in markdown
    assert "- gpt-5-2025-08-07 does " in markdown
    assert "flaky tests dropped in validation | 3 |" in markdown
    html = result.html.read_text()
    for marker in ('id="scores"', 'id="verdict"', 'id="date-split"', 'id="plot-private-public"', 'id="plot-gap"', 'id="plot-grid"'):
        assert marker in html
    assert "does not hold on this codebase" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the report must not load anything from the network"


def test_cli_prints_the_table_and_writes_the_files(tmp_path: Path):
    run = three_models(tmp_path)
    proc = run_cli("report", str(run), "--public", "devstral-small-2512=50", env={"COLUMNS": "250", "SWEGEN_RELEASE": "gpt-5=2025-09-01"})
    assert proc.returncode == 0, proc.stderr
    assert "private (30 tasks) against public SWE-bench Verified" in proc.stdout
    assert "does not hold on this codebase" in proc.stdout
    assert "given on the command line (--public)" in proc.stdout
    assert "2025-09-01 (given with --release)" in proc.stdout
    assert "task date against model release" in proc.stdout
    assert "devstral-small-2512 does better on fixes older than its release" in proc.stdout
    assert "flaky tests dropped" in proc.stdout
    for name in ("report.html", "summary.json", "report.md"):
        assert (run / "report" / name).exists()
    summary = json.loads((run / "report" / "summary.json").read_text())
    devstral = next(m for m in summary["models"] if m["name"] == "devstral-small-2512")
    assert devstral["public"]["percent"] == 50.0 and devstral["gap"]["method"] == "wilson, public fixed"


def test_no_evaluations_is_one_line_saying_to_evaluate_first(tmp_path: Path):
    run = make_run(tmp_path, {})
    proc = run_cli("report", str(run))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "swegen evaluate" in lines[0]
    with pytest.raises(SwegenError):
        make_report(ReportConfig(run))


def test_predictions_not_yet_evaluated_are_named(tmp_path: Path):
    run = make_run(tmp_path, {"gpt-5": pattern({1, 2})})
    (run / "predictions" / "o3.jsonl").write_text(json.dumps({"instance_id": "acme__ledger-000", "model_name_or_path": "o3", "model_patch": ""}) + "\n")
    report = make_report(ReportConfig(run)).report
    assert [m.name for m in report.models] == ["gpt-5"]
    assert any("predictions/o3.jsonl has no evaluation" in w and "swegen evaluate" in w for w in report.warnings)


def test_bad_option_values_are_one_line(tmp_path: Path):
    run = three_models(tmp_path)
    for args in (("--public", "gpt-5"), ("--public", "gpt-5=120"), ("--release", "gpt-5=last-year")):
        proc = run_cli("report", str(run), *args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and "MODEL=" in proc.stderr, proc.stderr


def test_public_ranking_holds_when_orders_agree(tmp_path: Path):
    run = make_run(tmp_path, {
        "gpt-5-2025-08-07": pattern(set(range(24))),
        "claude-sonnet-4-20250514": pattern(set(range(20))),
        "devstral-small-2512": pattern(set(range(8))),
    })
    report = make_report(ReportConfig(run)).report
    assert report.ranking.verdict == "holds" and report.ranking.tau == pytest.approx(1.0)
    assert report.ranking.sentence.startswith("The public ranking holds on this codebase")
    assert not report.ranking.swapped
    assert "Every model keeps its public place." in report.ranking.sentence, "24 and 20 against 8 of 30 differ significantly"
    # Without baselines the controls say so rather than inventing numbers.
    assert ("gold patch baseline (should resolve all)", "not evaluated") in report.controls.rows()
    (run / "validation_summary.json").unlink()
    rows = dict(make_report(ReportConfig(run)).report.controls.rows())
    assert rows["flaky tests dropped in validation"] == "unknown (no validation_summary.json)"


def test_a_reversal_within_noise_holds_only_in_part(tmp_path: Path):
    run = make_run(tmp_path, {
        "gpt-5-2025-08-07": pattern(set(range(20))),
        "claude-sonnet-4-20250514": pattern(set(range(21))),
        "devstral-small-2512": pattern(set(range(5))),
    })
    ranking = make_report(ReportConfig(run)).report.ranking
    assert ranking.verdict == "holds only in part"
    assert "No reversal is significant" in ranking.sentence


def test_agreement_without_any_significant_difference_is_called_weak(tmp_path: Path):
    run = make_run(tmp_path, {"gpt-5": pattern(set(range(12))), "devstral-small-2512": pattern(set(range(11)))})
    ranking = make_report(ReportConfig(run)).report.ranking
    assert ranking.verdict == "holds" and "weak evidence" in ranking.sentence


def test_models_that_tie_here_cannot_tell(tmp_path: Path):
    run = make_run(tmp_path, {"gpt-5": pattern(set()), "devstral-small-2512": pattern(set())})
    ranking = make_report(ReportConfig(run)).report.ranking
    assert ranking.verdict == "cannot tell" and ranking.tau is None


def test_unknown_model_without_public_score_is_reported_not_guessed(tmp_path: Path):
    run = make_run(tmp_path, {"acme/in-house-coder": pattern({1, 2, 3}), "gpt-5": pattern({1})})
    report = make_report(ReportConfig(run)).report
    inhouse = next(m for m in report.models if m.name == "acme/in-house-coder")
    assert inhouse.public is None and inhouse.gap is None
    assert report.ranking.verdict == "cannot tell"
    assert any("acme/in-house-coder" in w and "--public" in w for w in report.warnings)
    assert (run / "evaluations" / "acme__in-house-coder").is_dir()
    split = next(d for d in report.date_split if d.model == "acme/in-house-coder")
    assert split.release.date is None and "no release date" in split.sentence and split.before.graded == split.after.graded == 0


def test_html_escapes_names_from_files(tmp_path: Path):
    run = make_run(tmp_path, {"<script>alert(1)</script>": pattern({1})})
    html = make_report(ReportConfig(run)).html.read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


# -- the HTML report in a real browser ---------------------------------------------------------

#: Put first in <head>: records uncaught errors, console.error calls and failed resource loads.
RECORDER = """<script>
window.__problems = [];
window.addEventListener("error", function (e) {
  window.__problems.push(e.message ? String(e.message) : "failed to load " + (e.target && (e.target.src || e.target.href)));
}, true);
(function (original) { console.error = function () {
  window.__problems.push("console.error: " + Array.prototype.join.call(arguments, " ")); original.apply(console, arguments); }; })(console.error);
window.addEventListener("load", function () {
  document.documentElement.setAttribute("data-problems", JSON.stringify(window.__problems)); });
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        # Never skipped: scripts/setup.sh installs Debian's chromium, so a missing one is a broken machine.
        pytest.fail("chromium is not installed; run `bash scripts/setup.sh` (it installs Debian's chromium package)")
    return found


def load_in_chromium(page: Path, tmp_path: Path) -> tuple[str, list[str], str]:
    """Load a page headless; return its DOM after scripts ran, the problems recorded, and stderr."""
    probe = tmp_path / f"probe-{page.name}"
    probe.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + RECORDER, 1), encoding="utf-8")
    proc = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'data-problems="([^"]*)"', proc.stdout)
    assert found, "the page never finished loading: " + proc.stdout[:500]
    problems = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and ("Uncaught" in line or ":ERROR:" in line)]
    return proc.stdout, problems + console, proc.stderr


def test_the_browser_check_catches_a_broken_page(tmp_path: Path):
    broken = tmp_path / "broken.html"
    broken.write_text('<html><head></head><body><script>notDefined();</script><img src="missing.png"></body></html>')
    _, problems, _ = load_in_chromium(broken, tmp_path)
    assert any("notDefined" in p for p in problems)
    assert any("missing.png" in p for p in problems)


def test_html_report_opens_in_headless_chromium_without_errors(tmp_path: Path):
    result = make_report(ReportConfig(three_models(tmp_path)))
    dom, problems, _ = load_in_chromium(result.html, tmp_path)
    assert problems == []
    assert 'data-report-ready="yes"' in dom, "the report's own script did not run to its end"
    table = re.search(r'<table id="scores".*?</table>', dom, re.DOTALL)
    assert table and table.group(0).count("<tr>") == 1 + len(MODELS)
    for model in MODELS:
        assert model in table.group(0)
    for plot in ("plot-private-public", "plot-gap", "plot-grid"):
        svg = re.search(rf'<svg id="{plot}".*?</svg>', dom, re.DOTALL)
        assert svg, plot
    scatter = re.search(r'<svg id="plot-private-public".*?</svg>', dom, re.DOTALL).group(0)
    assert scatter.count("<circle") == len(MODELS)
    grid = re.search(r'<svg id="plot-grid".*?</svg>', dom, re.DOTALL).group(0)
    assert grid.count("<rect") >= 30 * (len(MODELS) + 2)
    gaps = re.search(r'<svg id="plot-gap".*?</svg>', dom, re.DOTALL).group(0)
    assert gaps.count('class="bar"') == len(MODELS)
    assert "does not hold on this codebase" in dom


def test_installed_wheel_ships_the_score_table_and_report_templates(tmp_path: Path):
    """A non-editable install reports from any directory: public scores and templates are in the wheel."""
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[1]
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(root)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("swegen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ("swegen/data/public_scores.csv", "swegen/_templates/report.html.j2", "swegen/_templates/report.md.j2"):
        assert asset in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)], check=True)
    run = three_models(tmp_path / "work")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = "import swegen.scores as s, swegen.resources as r; print(s.shipped_file()); print(r.template_dir())"
    where = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, env={"PYTHONPATH": str(site)}, capture_output=True, text=True, check=True)
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout
    proc = subprocess.run([sys.executable, "-m", "swegen", "report", str(run)], cwd=elsewhere, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(site), "COLUMNS": "250"}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "same scaffold (bash-only board)" in proc.stdout
    assert (run / "report" / "report.html").exists()


# -- task quality: statement quality, strict verdicts, the task table ------------------------------


def _with_quality(run: Path) -> None:
    """Give the tasks statement grades and task folders, as restate writes them."""
    tasks = [json.loads(line) for line in (run / "tasks.jsonl").read_text().splitlines()]
    for i, task in enumerate(tasks):
        task["statement_quality"] = ("ok", "thin", "leaky")[i % 3]
        task["statement_quality_reasons"] = [] if i % 3 == 0 else [f"reason {i}"]
        task["statement_sources"] = ["commit_message", "test_failure"] if i % 2 else ["issue"]
        task["leakage_score"] = (0.0, 0.25, 1.0)[i % 3]
        folder = run / task["instance_id"]
        folder.mkdir()
        for name in ("problem_statement.md", "task.json", "gold.patch", "test.patch"):
            (folder / name).write_text("x")
    (run / "tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tasks))


def _set_strict(run: Path, model: str, strict: dict[int, bool]) -> None:
    path = run / "evaluations" / model / "results.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        index = int(line["instance_id"].rsplit("-", 1)[1])
        if index in strict:
            line["strict_resolved"] = strict[index]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_rates_by_statement_quality_and_leakage_count_every_task(tmp_path: Path):
    run = three_models(tmp_path)
    _with_quality(run)
    summary = json.loads(make_report(ReportConfig(run)).summary.read_text())
    quality = next(b for b in summary["breakdowns"] if b["title"] == "statement quality")
    assert [(g["label"], g["tasks"]) for g in quality["groups"]] == [("ok", 10), ("thin", 10), ("leaky", 10)]
    devstral = {g["label"]: next(c for c in g["cells"] if c["model"] == "devstral-small-2512") for g in quality["groups"]}
    # devstral resolves tasks 0-26 (and 28 on its retry): ok are 0, 3, ..., 27 -> 9 of 10.
    assert (devstral["ok"]["resolved"], devstral["ok"]["graded"]) == (9, 10)
    leakage = next(b for b in summary["breakdowns"] if b["title"] == "leakage of the statement as mined")
    assert [(g["label"], g["tasks"]) for g in leakage["groups"]] == [
        ("leaks nothing", 10), ("names code only the fix adds", 10), ("quotes the fix", 10)]


def test_strict_rate_is_not_measured_when_evaluation_gave_none(tmp_path: Path):
    run = three_models(tmp_path)
    _set_strict(run, "devstral-small-2512", {i: i % 9 != 0 for i in range(30)})  # 0, 9, 18 (resolved) break
    # Evaluation gives a strict verdict on resolved tasks only; claude's task 4 has none.
    _set_strict(run, "claude-sonnet-4-20250514", {i: True for i in range(0, 30, 2) if i != 4})
    result = make_report(ReportConfig(run))
    verdicts = {v["model"]: v for v in json.loads(result.summary.read_text())["verdicts"]}
    devstral = verdicts["devstral-small-2512"]
    assert (devstral["plain"]["resolved"], devstral["strict_resolved"], devstral["strict_unmeasured"]) == (28, 25, 0)
    claude = verdicts["claude-sonnet-4-20250514"]
    assert (claude["plain"]["resolved"], claude["strict_resolved"], claude["strict_unmeasured"]) == (15, 14, 1)
    assert verdicts["gpt-5-2025-08-07"]["strict_resolved"] is None  # absent: not measured, never guessed
    html, markdown = result.html.read_text(), result.markdown.read_text()
    assert "| devstral-small-2512 | 93.3% (28/30) | 83.3% (25/30) |" in markdown
    assert "| claude-sonnet-4-20250514 | 51.7% (15/29) | 48.3% (14/29), 1 resolved not measured |" in markdown
    assert "| gpt-5-2025-08-07 | 33.3% (10/30) | not measured |" in markdown
    row = re.search(r"<tr><td>gpt-5-2025-08-07</td>.*?</tr>", html.split('id="verdicts"')[1]).group(0)
    assert "not measured" in row
    rows = {r["instance_id"]: r for r in json.loads(result.summary.read_text())["task_rows"]}
    assert rows["acme__ledger-009"]["strict_failed_by"] == ["devstral-small-2512"]


def test_the_task_table_lists_every_task_with_its_flags_solvers_and_files(tmp_path: Path):
    run = three_models(tmp_path)
    _with_quality(run)
    result = make_report(ReportConfig(run))
    dom, problems, _ = load_in_chromium(result.html, tmp_path)
    assert problems == []
    table = re.search(r'<table id="tasks".*?</table>', dom, re.DOTALL).group(0)
    assert table.count('<tr class="quality-') == 30
    row = re.search(r'<tr class="quality-leaky"><td><code>acme__ledger-002</code>.*?</tr>', table, re.DOTALL).group(0)
    assert "issue" in row and "reason 2" in row and "1.00" in row and ">1<" in row  # one FAIL_TO_PASS test
    assert "claude-sonnet-4-20250514" in row and "devstral-small-2512" in row and "gpt-5" not in row
    assert 'href="../acme__ledger-002/problem_statement.md"' in row and 'href="../acme__ledger-002/gold.patch"' in row
    assert "problem_statement.original.md" not in row  # only files that exist are linked
    for link in re.findall(r'href="(\.\./[^"]+)"', table):
        assert (result.html.parent / link).resolve().exists(), link
    markdown = result.markdown.read_text()
    assert "| `acme__ledger-001` | commit_message, test_failure | thin: reason 1 | 0.25 | 1 |" in markdown
    assert "[task.json](../acme__ledger-001/task.json)" in markdown


def test_a_demo_run_says_it_is_a_demonstration(tmp_path: Path):
    run = three_models(tmp_path)
    note = "Demonstration of the pipeline, not a measurement: scripted stand-ins."
    (run / "demo.json").write_text(json.dumps({"note": note, "stand_ins": {"gpt-5-2025-08-07": "scripted, --skill 1"}}))
    result = make_report(ReportConfig(run))
    assert note in result.html.read_text() and "gpt-5-2025-08-07 = scripted, --skill 1" in result.html.read_text()
    assert note in result.markdown.read_text()
    assert "Demonstration" not in make_report(ReportConfig(three_models(tmp_path / "plain"))).html.read_text()
