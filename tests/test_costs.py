"""Cost and time per model count exactly the tasks the model's rate counts: an infrastructure error is in no figure, money comes only from the prices the user gives, and the report shows the table and the resolution-against-cost plot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from swegen import costs
from swegen.errors import BadInput
from swegen.reporting import ReportConfig, make_report
from tests.conftest import run_cli
from tests.test_report import load_in_chromium, make_run, pattern

TASKS = 10
IDS = [f"acme__ledger-{i:03d}" for i in range(TASKS)]


def _predictions(run: Path, model: str, lines: list[dict]) -> None:
    path = run / "predictions" / f"{model.replace('/', '__')}.jsonl"
    path.write_text("".join(json.dumps({"instance_id": IDS[n], "model_name_or_path": model, "model_patch": "", **line}) + "\n"
                            for n, line in enumerate(lines)), encoding="utf-8")


def costed_run(root: Path) -> Path:
    """cheap: 5 of 10 resolved, 100 in / 10 out tokens and 2 s per task, but task 9 an infra error in solve
    (a huge bill that must count nowhere); dear: 8 of 9 graded (task 0 an evaluation infra error), 1000/100
    tokens and 10..90 s; mute: a command agent that records time only."""
    run = make_run(root, {
        "cheap": pattern({0, 1, 2, 3, 4}, tasks=TASKS, errors={9}),
        "dear": pattern(set(range(1, 9)), tasks=TASKS, errors={0}),
        "mute": pattern({0}, tasks=TASKS),
        "gold": pattern(set(range(TASKS)), tasks=TASKS),
    }, tasks=TASKS)
    _predictions(run, "cheap", [{"seconds": 2.0, "prompt_tokens": 100, "completion_tokens": 10, "turns": 3 + n % 2} for n in range(9)]
                 + [{"seconds": 5000.0, "prompt_tokens": 10**9, "completion_tokens": 10**9, "turns": 900, "infra_error": "endpoint down"}])
    # tokens as another agent reports them, one line retried (the last line wins)
    dear = [{"seconds": 10.0 * n, "tokens": {"input_tokens": 1000, "output_tokens": 100}} for n in range(TASKS)]
    _predictions(run, "dear", dear)
    with open(run / "predictions" / "dear.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"instance_id": IDS[5], "model_name_or_path": "dear", "model_patch": "", "seconds": 50.0,
                                 "input_tokens": 1000, "output_tokens": 100}) + "\n")
    _predictions(run, "mute", [{"seconds": 3.0, "exit_code": 0} for _ in range(TASKS)])
    return run


def test_figures_count_only_graded_tasks_and_given_prices(tmp_path: Path):
    run = costed_run(tmp_path)
    config = ReportConfig(run, prices=costs.load_prices(["cheap=1/2", "dear=10/30", "mute=1/1"]))
    figures = {c.model: c for c in make_report(config).report.costs}
    cheap, dear, mute = figures["cheap"], figures["dear"], figures["mute"]
    # the solve infra error (task 9) is out: 9 graded tasks, 900/90 tokens, 18 s, never 10**9 tokens or 5000 s
    assert (cheap.graded, cheap.resolved, cheap.prompt_tokens, cheap.completion_tokens) == (9, 5, 900, 90)
    assert (cheap.median_seconds, cheap.total_seconds, cheap.median_turns) == (2.0, 18.0, 3)
    assert cheap.total_cost == pytest.approx((900 * 1 + 90 * 2) / 1e6)
    assert cheap.cost_per_resolved == pytest.approx(cheap.total_cost / 5)
    # the evaluation infra error (task 0) is out too: tasks 1..9 at 10..90 s, median 50
    assert (dear.graded, dear.resolved, dear.prompt_tokens, dear.completion_tokens) == (9, 8, 9000, 900)
    assert (dear.median_seconds, dear.total_seconds) == (50.0, 450.0)
    assert dear.total_cost == pytest.approx((9000 * 10 + 900 * 30) / 1e6)
    assert dear.cost_per_task == pytest.approx(dear.total_cost / 9)
    # no tokens recorded: time, but no money, and it says why
    assert (mute.timed, mute.total_seconds, mute.with_tokens, mute.total_cost, mute.median_turns) == (10, 30.0, 0, None, None)
    assert "tokens recorded on 0 of 10" in mute.note
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert {c["model"]: c["total_seconds"] for c in summary["costs"]} == {"dear": 450.0, "cheap": 18.0, "mute": 30.0}
    assert "gold" not in {c["model"] for c in summary["costs"]}, "baselines have no cost"


def test_control_the_infra_error_line_would_change_the_figures(tmp_path: Path):
    """The same run with the solve infra error's line not marked: now it is graded and its bill counts."""
    run = costed_run(tmp_path)
    lines = (run / "predictions" / "cheap.jsonl").read_text().splitlines()
    unmarked = {**json.loads(lines[9]), "infra_error": None}
    (run / "predictions" / "cheap.jsonl").write_text("\n".join(lines[:9] + [json.dumps(unmarked)]) + "\n")
    results = run / "evaluations" / "cheap" / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    rows[9].update(status="unresolved", infra_error=None)
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cheap = next(c for c in make_report(ReportConfig(run, prices=costs.load_prices(["cheap=1/2"]))).report.costs if c.model == "cheap")
    assert (cheap.graded, cheap.total_seconds) == (10, 5018.0)
    assert cheap.prompt_tokens == 900 + 10**9


def test_a_price_without_a_model_and_no_price_at_all(tmp_path: Path):
    run = costed_run(tmp_path)
    report = make_report(ReportConfig(run)).report
    assert all(c.total_cost is None and "no price for" in c.note for c in report.costs)
    assert all(c.total_seconds for c in report.costs), "time needs no price"
    markdown = (run / "report" / "report.md").read_text()
    assert "## Cost and time" in markdown and "no price for cheap; give one with --price cheap=INPUT/OUTPUT" in markdown


def test_price_table_from_toml_and_command_line(tmp_path: Path):
    table = tmp_path / "prices.toml"
    table.write_text('[prices]\n"cheap" = { input = 1, output = 2 }\n"dear" = "10/30"\n"claude-sonnet-4-5" = { input = 3, output = 15 }\n')
    prices = costs.load_prices(["dear=20/40"], table)
    assert prices == {"cheap": costs.Price(1, 2), "dear": costs.Price(20, 40), "claude-sonnet-4-5": costs.Price(3, 15)}
    # a dateless price stands for every snapshot of the model, as --public does
    assert costs.model_cost("claude-sonnet-4-5-20250929", {}, {}, prices).price == costs.Price(3, 15)
    for bad in ("gpt-5", "gpt-5=3", "gpt-5=a/b", "gpt-5=-1/2", "=1/2"):
        with pytest.raises(BadInput):
            costs.load_prices([bad])
    broken = tmp_path / "broken.toml"
    for text in ("cheap = [1, 2]\n", "cheap = { input = 1 }\n", "not toml at all ==\n", 'cheap = { input = "x", output = 1 }\n'):
        broken.write_text(text)
        with pytest.raises(BadInput):
            costs.load_prices([], broken)


def test_cli_prints_the_cost_table_and_refuses_a_bad_price_in_one_line(tmp_path: Path):
    run = costed_run(tmp_path)
    table = tmp_path / "prices.toml"
    table.write_text('dear = { input = 10, output = 30 }\n')
    proc = run_cli("report", str(run), "--price", "cheap=1/2", "--prices", str(table), env={"COLUMNS": "250"})
    assert proc.returncode == 0, proc.stderr
    assert "cost and time" in proc.stdout and "$1 / $2" in proc.stdout and "$10 / $30" in proc.stdout
    assert "mute: no price for mute" in proc.stdout
    for args in (("--price", "cheap=1"), ("--price", "cheap=x/y")):
        proc = run_cli("report", str(run), *args)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "--price" in lines[0], proc.stderr
    table.write_text("dear = [1]\n")
    proc = run_cli("report", str(run), "--prices", str(table))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "price file" in proc.stderr


def test_html_cost_table_and_plot_in_headless_chromium(tmp_path: Path):
    run = costed_run(tmp_path)
    result = make_report(ReportConfig(run, prices=costs.load_prices(["cheap=1/2", "dear=10/30"])))
    dom, problems, _ = load_in_chromium(result.html, tmp_path)
    assert problems == [] and 'data-report-ready="yes"' in dom
    table = re.search(r'<table id="costs".*?</table>', dom, re.DOTALL).group(0)
    assert table.count("<tr>") == 1 + 3
    assert "$0.1170" in table, "dear: (9000 * 10 + 900 * 30) / 1e6 dollars"
    plot = re.search(r'<svg id="plot-cost".*?</svg>', dom, re.DOTALL).group(0)
    assert plot.count("<circle") == 2, "one dot per priced model; mute has no money"
    dots = {name: float(x) for x, name in re.findall(r'<circle cx="([\d.]+)"[^>]*>(?:</circle>)?\s*<text[^>]*>([\w-]+)</text>', plot)}
    assert dots["dear"] > dots["cheap"], "dearer per task lies further right"
    left_out = re.search(r'<ul id="cost-left-out">.*?</ul>', dom, re.DOTALL).group(0)
    assert "mute" in left_out and "cheap" not in left_out
