"""Geometry of the report's plots; templates/report.html.j2 draws it as inline SVG.

Plain coordinates computed here, markup in the template: the HTML report stays one offline file
with no plotting library, no script from a CDN, and nothing to fetch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Colour of each task status in the model-by-task grid.
STATUS_COLOURS = {
    "resolved": "#2e7d32",
    "unresolved": "#c62828",
    "tampered": "#212121",
    "empty_patch": "#f9a825",
    "error": "#6a1b9a",
    "missing": "#bdbdbd",
}
#: Horizontal room for one entry of the grid's legend.
LEGEND_STEP = 110


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Point:
    """One model in the private-against-public plot: a dot with a vertical error bar."""

    name: str
    x: float
    y: float
    y_low: float
    y_high: float
    title: str


@dataclass(frozen=True)
class Scatter:
    width: int
    height: int
    left: int
    top: int
    size: int
    points: tuple[Point, ...]
    ticks: tuple[Tick, ...]


@dataclass(frozen=True)
class Square:
    x: float
    y: float
    colour: str
    title: str


@dataclass(frozen=True)
class Grid:
    width: int
    height: int
    cell: float
    label_width: int
    rows: tuple[tuple[str, float], ...]
    squares: tuple[Square, ...]
    legend: tuple[tuple[str, str], ...]
    legend_step: int


@dataclass(frozen=True)
class Bar:
    name: str
    y: float
    x0: float
    x1: float
    low: float
    high: float
    label: str
    title: str


@dataclass(frozen=True)
class GapChart:
    width: int
    height: int
    left: int
    zero: float
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    row: int


@dataclass(frozen=True)
class Plots:
    scatter: Scatter
    grid: Grid
    gaps: GapChart


def plots(report: Any) -> Plots:
    """All three plots of a reporting.Report."""
    return Plots(scatter(report.models), grid(report), gap_chart(report.models))


def scatter(models: Any, size: int = 360, left: int = 50, top: int = 20) -> Scatter:
    """Private rate (with its 95% interval) against the public percent, both 0-100 on equal axes."""
    points = []
    for m in models:
        if m.public is None or math.isnan(m.interval.rate):
            continue
        x = left + size * m.public.percent / 100
        y = top + size * (1 - m.interval.rate)
        title = f"{m.name}: private {100 * m.interval.rate:.1f}% ({100 * m.interval.low:.1f}-{100 * m.interval.high:.1f}), public {m.public.percent:g}%"
        points.append(Point(m.name, x, y, top + size * (1 - m.interval.low), top + size * (1 - m.interval.high), title))
    ticks = tuple(Tick(size * v / 100, str(v)) for v in range(0, 101, 20))
    return Scatter(size + left + 150, size + top + 45, left, top, size, tuple(points), ticks)


def grid(report: Any, max_width: int = 900, label_width: int = 190) -> Grid:
    """Each model a row, each task a square coloured by its status; baselines at the bottom."""
    names = [m.name for m in report.models] + [b for b in ("gold", "empty") if b in report.grid]
    tasks = len(report.task_ids)
    cell = max(4.0, min(18.0, (max_width - label_width) / max(tasks, 1)))
    squares = []
    rows = []
    for r, name in enumerate(names):
        rows.append((name, 14 + r * (cell + 2) + cell / 2))
        for c, (task, status) in enumerate(zip(report.task_ids, report.grid[name])):
            squares.append(Square(label_width + c * cell, 14 + r * (cell + 2), STATUS_COLOURS.get(status, "#bdbdbd"), f"{name} / {task}: {status}"))
    width = int(max(label_width + tasks * cell + 10, label_width + LEGEND_STEP * len(STATUS_COLOURS)))
    height = int(14 + len(names) * (cell + 2) + 30)
    return Grid(width, height, cell, label_width, tuple(rows), tuple(squares), tuple(STATUS_COLOURS.items()), LEGEND_STEP)


def gap_chart(models: Any, width: int = 420, left: int = 190, row: int = 28) -> GapChart:
    """Private minus public, in points, with the gap's 95% interval as a whisker."""
    gapped = [m for m in models if m.gap is not None]
    reach = max([10.0] + [100 * max(abs(m.gap.low), abs(m.gap.high)) for m in gapped])
    reach = 10 * math.ceil(reach / 10)
    scale = width / (2 * reach)
    zero = left + width / 2
    bars = []
    for i, m in enumerate(gapped):
        gap = 100 * m.gap.gap
        x0, x1 = sorted((zero, zero + gap * scale))
        title = f"{m.name}: {gap:+.1f} points (95% CI {100 * m.gap.low:+.1f} to {100 * m.gap.high:+.1f}; {m.gap.method})"
        bars.append(Bar(m.name, 10 + i * row, x0, x1, zero + 100 * m.gap.low * scale, zero + 100 * m.gap.high * scale, f"{gap:+.1f}", title))
    step = max(10, 10 * math.ceil(reach / 40))
    values = sorted({sign * v for v in range(0, int(reach) + 1, step) for sign in (-1, 1)})
    ticks = tuple(Tick(zero + v * scale, f"{v:+d}" if v else "0") for v in values)
    return GapChart(left + width + 60, 10 + max(len(bars), 1) * row + 40, left, zero, tuple(bars), ticks, row)
