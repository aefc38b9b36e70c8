"""Command-line commands of the report stage: `swegen scores` (and `swegen report`, to come).

Registered on the main group by swegen.cli; errors are SwegenError, turned into one line there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table


def register(cli: click.Group) -> None:
    """Add the report-stage commands to the main command group."""
    from swegen.cli import option

    @cli.group()
    def scores() -> None:
        """Published SWE-bench scores that reports compare with."""

    @scores.command("list")
    @option("--model", env="MODEL", default=None, help="Only rows naming this model (matched as reports match names).")
    @option("--benchmark", env="BENCHMARK", type=click.Choice(["verified", "lite", "full", "multilingual"]), default=None, help="Only this split.")
    def scores_list(model: str | None, benchmark: str | None) -> None:
        """List the public scores, newest first, each with its source."""
        from swegen import scores as public

        rows = public.load_scores()
        if model:
            rows = public.rows_for(model, rows)
        if benchmark:
            rows = [r for r in rows if r.benchmark == benchmark]
        table = Table(title=f"public SWE-bench scores ({len(rows)} rows)")
        for column in ("model", "system", "split", "%", "resolved", "attempts", "date", "source"):
            table.add_column(column, justify="right" if column in ("%", "resolved") else "left")
        for row in rows:
            counted = f"{row.resolved}/{row.total}" if row.resolved is not None else ""
            table.add_row(row.model, row.system, row.benchmark, f"{row.percent:g}", counted, row.attempts, row.date, row.source)
        _out().print(table)
        if model and not rows:
            _out().print(f"no public row names {model!r}; give one with `swegen report --public {model}=PCT`")

    @scores.command("update")
    @option("--from", "source", env="SCORES_FROM", required=True, metavar="FILE_OR_URL",
            help="The official leaderboard JSON (data/leaderboards.json of the SWE-bench site), as a file or URL.")
    def scores_update(source: str) -> None:
        """Add the rows of the official leaderboard JSON to your own score table."""
        from swegen import scores as public

        result = public.update(source)
        _out().print(f"read {result.read} row(s), {result.added} new row(s); {result.total} in {result.path}")


def _out() -> Any:
    from swegen.cli import out

    return out
