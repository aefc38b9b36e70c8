"""Command-line commands of the report stage: `swegen report` and `swegen scores`.

Registered on the main group by swegen.cli; errors are SwegenError, turned into one line there.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table


def register(cli: click.Group) -> None:
    """Add the report-stage commands to the main command group."""
    from swegen.cli import option, run_dir_argument

    @cli.command()
    @run_dir_argument()
    @option("--public", "public", env="PUBLIC", multiple=True, metavar="MODEL=PCT",
            help="Use this public score for a model instead of the shipped table (repeatable).")
    @option("--release", "release", env="RELEASE", multiple=True, metavar="MODEL=YYYY-MM-DD",
            help="A model's release date for the date split (repeatable; default: its earliest public score).")
    @option("--benchmark", env="BENCHMARK", type=click.Choice(["verified", "lite", "full", "multilingual"]), default="verified",
            show_default=True, help="Which public SWE-bench split to compare with.")
    @option("--scores", "scores_file", env="SCORES", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
            help="An extra public score table (CSV as `swegen scores list` shows), read before the shipped one.")
    @option("--price", "prices", env="PRICE", multiple=True, metavar="MODEL=INPUT/OUTPUT",
            help="A model's price in dollars per million input and output tokens, e.g. gpt-5=1.25/10 (repeatable).")
    @option("--prices", "prices_file", env="PRICES", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
            help='A TOML price table: one line per model, like "gpt-5" = { input = 1.25, output = 10 }; --price overrides it.')
    def report(run_dir: Path, public: tuple[str, ...], release: tuple[str, ...], benchmark: str, scores_file: Path | None,
               prices: tuple[str, ...], prices_file: Path | None) -> None:
        """Compare private and public scores of RUN_DIR's evaluated models; write report.html, summary.json and report.md."""
        from swegen.reporting import ReportConfig, make_report

        config = ReportConfig.from_options(run_dir, public, release, benchmark, scores_file, prices, prices_file)
        result = make_report(config)
        print_report(result.report)
        _out().print(f"report: {result.html}", markup=False)
        _out().print(f"also: {result.markdown}, {result.summary}", markup=False)

    @cli.command()
    @run_dir_argument()
    @option("--endpoint", "base_url", env="PROBE_ENDPOINT", required=True, metavar="URL",
            help="Base URL of the OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.")
    @option("--model", env="PROBE_MODEL", required=True, help="The model name the endpoint serves; it names the results file.")
    @option("--release", "release", env="PROBE_RELEASE", default=None, metavar="YYYY-MM-DD", callback=_release_date,
            help="The model's release date (default: from the public score table, else no before/after split).")
    @option("--api-key-env", env="PROBE_API_KEY_ENV", default="OPENAI_API_KEY", show_default=True,
            help="Environment variable holding the API key.")
    @option("--timeout", env="PROBE_TIMEOUT", type=click.FloatRange(min=1), default=120, show_default=True, help="Seconds one request may take.")
    @option("--retries", env="PROBE_RETRIES", type=click.IntRange(min=0), default=4, show_default=True,
            help="Retries of a request that fails on the way (network, timeout, HTTP 5xx or 429).")
    @option("--backoff", env="PROBE_BACKOFF", type=click.FloatRange(min=0), default=2.0, show_default=True,
            help="Seconds before the first retry; doubled each time.")
    @option("--limit", env="PROBE_LIMIT", type=click.IntRange(min=1), default=None, help="Probe at most this many tasks.")
    def probe(run_dir: Path, base_url: str, model: str, release: str | None, api_key_env: str, timeout: float, retries: int,
              backoff: float, limit: int | None) -> None:
        """Ask a model for each task's fix from the repository name and statement alone (no code): a memorisation probe."""
        from swegen.cli import _progress
        from swegen.llm import RetryPolicy
        from swegen.probe import ProbeConfig, probe as run_probe, results_file

        config = ProbeConfig(run_dir, base_url, model, release, api_key_env, timeout,
                             RetryPolicy(retries=retries, backoff=backoff, max_backoff=max(60.0, backoff)), limit)
        with _progress() as progress:
            summary = run_probe(config, progress)
        print_probe(summary)
        _out().print(f"probe: {results_file(run_dir, model)}", markup=False)

    @cli.group()
    def scores() -> None:
        """Published SWE-bench scores that reports compare with."""

    @scores.command("list")
    @option("--model", env="SCORES_MODEL", default=None, help="Only rows naming this model (matched as reports match names).")
    @option("--benchmark", env="BENCHMARK", type=click.Choice(["verified", "lite", "full", "multilingual"]), default=None, help="Only this split.")
    def scores_list(model: str | None, benchmark: str | None) -> None:
        """List the public scores, newest first, each with its source."""
        from swegen import scores as public

        rows = public.load_scores()
        used: set[int] = set()
        if model:
            # Mark the row `swegen report` would compare with on each split.
            used = {id(m.row) for m in (public.match(model, rows, split) for split in public.BENCHMARKS) if m.row}
            rows = public.rows_for(model, rows)
        if benchmark:
            rows = [r for r in rows if r.benchmark == benchmark]
        table = Table(title=f"public SWE-bench scores ({len(rows)} rows)" + (", * = the row a report uses" if model else ""))
        for column in ("", "model", "system", "split", "%", "resolved", "attempts", "date", "source"):
            table.add_column(column, justify="right" if column in ("%", "resolved") else "left")
        for row in rows:
            counted = f"{row.resolved}/{row.total}" if row.resolved is not None else ""
            mark = "*" if id(row) in used else ""
            table.add_row(*_plain(mark, row.model, row.system, row.benchmark, f"{row.percent:g}", counted, row.attempts, row.date, row.source))
        _out().print(table)
        if model and not rows:
            _out().print(f"no public row names {model!r}; give one with `swegen report --public {model}=PCT`", markup=False)

    @scores.command("update")
    @option("--from", "source", env="SCORES_FROM", required=True, metavar="FILE_OR_URL",
            help="The official leaderboard JSON (data/leaderboards.json of the SWE-bench site) or the leaderboard page, as a file or URL.")
    def scores_update(source: str) -> None:
        """Add the rows of the official leaderboard JSON to your own score table."""
        from swegen import scores as public

        result = public.update(source)
        _out().print(f"read {result.read} row(s), {result.added} new row(s); {result.total} in {result.path}", markup=False)


def _release_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


def print_probe(summary: Any) -> None:
    """One model's memorisation probe: per side of its release, recall against the shuffled baseline."""
    table = Table(title=f"memorisation probe: {summary.model} (release {summary.release or 'unknown'})")
    for column in ("tasks", "file recall", "shuffled", "line overlap", "shuffled ", "recalled"):
        table.add_column(column, justify="right")
    table.add_column("side", justify="left")
    for side in summary.sides:
        table.add_row(*_plain(side.tasks, _share(side.file_recall), _share(side.file_recall_shuffled), _share(side.line_overlap),
                              _share(side.line_overlap_shuffled), side.recalled, f"{side.side} release"))
    _out().print(table)
    _out().print(f"  {summary.sentence}", highlight=False, markup=False)
    if summary.recalled_ids:
        _out().print("  recalled: " + ", ".join(summary.recalled_ids), highlight=False, markup=False)
    if summary.infra_errors:
        _out().print(f"  {summary.infra_errors} task(s) failed on the endpoint (in no figure); run the same command again",
                     highlight=False, markup=False)


def _share(value: float) -> str:
    return "-" if value != value else f"{100 * value:.0f}%"


def _out() -> Any:
    from swegen.cli import out

    return out


def print_report(report: Any) -> None:
    """The report in the terminal: public against private, the verdict, controls and warnings."""
    out = _out()
    if report.demo_note:
        out.print(f"[bold yellow]{escape(report.demo_note)}[/]", highlight=False)
    table = Table(title=f"private ({report.tasks} tasks) against public SWE-bench {report.benchmark.capitalize()}")
    for column in ("model", "private", "95% CI", "public", "gap", "95% CI of gap", "errors", "public row used"):
        table.add_column(column, justify="left" if column in ("model", "public row used") else "right")
    for model in report.models:
        table.add_row(*_plain(*model.terminal_cells()))
    out.print(table)
    out.print(report.ranking.sentence, highlight=False, markup=False)
    if report.pairs:
        pairs = Table(title="paired comparisons (exact McNemar on shared tasks)")
        for column in ("models", "shared", "only first", "only second", "p"):
            pairs.add_column(column, justify="left" if column == "models" else "right")
        for pair in report.pairs:
            pairs.add_row(escape(f"{pair.first} vs {pair.second}"), str(pair.test.shared), str(pair.test.only_first),
                          str(pair.test.only_second), f"{pair.test.p_value:.3g}")
        out.print(pairs)
    dates = Table(title="task date against model release (contamination signal)")
    for column in ("model", "release", "before release", "after release", "p (Fisher)"):
        dates.add_column(column, justify="left" if column in ("model", "release") else "right")
    for split in report.date_split:
        dates.add_row(*_plain(*split.terminal_cells()))
    out.print(dates)
    for split in report.date_split:
        out.print(f"  {split.sentence}", highlight=False, markup=False)
    _print_quarters(report)
    for summary in report.probes:
        print_probe(summary)
    _print_costs(report)
    for verdict in report.verdicts:
        strict = "not measured" if verdict.strict_resolved is None else f"{verdict.strict_resolved}/{verdict.plain.graded}" + (
            f" ({verdict.strict_unmeasured} resolved not measured)" if verdict.strict_unmeasured else "")
        out.print(f"  {verdict.model}: {verdict.plain.resolved}/{verdict.plain.graded} resolved under the SWE-bench rule, "
                  f"strict rule: {strict}", highlight=False, markup=False)
    quality = Counter(row.quality for row in report.task_rows)
    out.print("  statements: " + ", ".join(f"{quality[q]} {q}" for q in ("ok", "thin", "leaky", "unknown") if quality[q]),
              highlight=False, markup=False)
    controls = Table(title="controls", show_header=False)
    controls.add_column("control")
    controls.add_column("value", justify="right")
    for label, value in report.controls.rows():
        controls.add_row(*_plain(label, value))
    out.print(controls)
    for warning in report.warnings:
        out.print(f"[yellow]warning:[/] {escape(str(warning))}", highlight=False)


def _print_quarters(report: Any) -> None:
    if report.quarters is None:
        return
    table = Table(title="resolution by quarter of the fix (contamination trend)")
    table.add_column("quarter")
    table.add_column("tasks", justify="right")
    for model in report.models:
        table.add_column(escape(model.name), justify="right")
    for group in report.quarters.groups:
        cells = [f"{100 * c.resolved / c.graded:.0f}% ({c.resolved}/{c.graded})" if c.graded else "-" for c in group.cells]
        table.add_row(*_plain(group.label, group.tasks, *cells))
    _out().print(table)


def _print_costs(report: Any) -> None:
    if not report.costs:
        return
    table = Table(title="cost and time (graded tasks only; infrastructure errors left out)")
    for column in ("model", "resolved", "median time", "total time", "median turns", "input tokens", "output tokens", "price in/out per M",
                   "total cost", "per resolved"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for cost in report.costs:
        table.add_row(*_plain(*cost.terminal_cells()))
    _out().print(table)
    for cost in report.costs:
        if cost.note:
            _out().print(f"  {cost.model}: {cost.note}", highlight=False, markup=False)


def _plain(*cells: object) -> list[str]:
    """Table cells as literal text: a model name or reason with [brackets] is not rich markup."""
    return [escape(str(cell)) for cell in cells]
