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


#: Line colours of the models in the plots that draw several models at once.
PALETTE = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457")


@dataclass(frozen=True)
class CostPlot:
    """Resolution rate (with its 95% interval) against dollars per graded task, one dot per priced model."""

    width: int
    height: int
    left: int
    top: int
    size: int
    points: tuple[Point, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    #: Models left out (no price, or tokens not recorded), with the reason.
    left_out: tuple[str, ...]


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    #: "x,y x,y ..." for a polyline; a quarter with no graded task breaks no line, it is skipped.
    path: str
    dots: tuple[Point, ...]
    #: x of the model's release date (a dashed line), or None when unknown or off the axis.
    release_x: float | None


@dataclass(frozen=True)
class TrendPlot:
    """Each model's rate per quarter of the fix's date, with its release date marked."""

    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]


@dataclass(frozen=True)
class Plots:
    scatter: Scatter
    grid: Grid
    gaps: GapChart
    cost: CostPlot | None = None
    trend: TrendPlot | None = None


def plots(report: Any) -> Plots:
    """All the plots of a reporting.Report."""
    releases = {m.name: m.release.date for m in report.models}
    return Plots(scatter(report.models), grid(report), gap_chart(report.models), cost_plot(report.costs),
                 trend_plot(report.quarters, releases))


def _nice(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def cost_plot(costs: Any, size: int = 320, left: int = 60, top: int = 20) -> CostPlot | None:
    """Resolution against cost per graded task; None when no model has any figure at all."""
    from swegen.stats import wilson

    if not costs:
        return None
    priced = [c for c in costs if c.cost_per_task is not None and c.graded]
    reach = _nice(max([c.cost_per_task for c in priced] + [0.0]) * 1.1)
    points = []
    for c in priced:
        interval = wilson(c.resolved, c.graded)
        x = left + size * c.cost_per_task / reach
        title = (f"{c.model}: {100 * interval.rate:.1f}% resolved ({c.resolved}/{c.graded}), ${c.cost_per_task:.4f} per task, "
                 f"${c.total_cost:.4f} in all" + (f", ${c.cost_per_resolved:.4f} per resolved task" if c.cost_per_resolved else ""))
        points.append(Point(c.model, x, top + size * (1 - interval.rate), top + size * (1 - interval.low), top + size * (1 - interval.high), title))
    x_ticks = tuple(Tick(size * k / 4, _money_tick(reach * k / 4)) for k in range(5))
    y_ticks = tuple(Tick(size * v / 100, str(v)) for v in range(0, 101, 20))
    left_out = tuple(f"{c.model}: {c.note}" for c in costs if c.cost_per_task is None)
    return CostPlot(size + left + 170, size + top + 45, left, top, size, tuple(points), x_ticks, y_ticks, left_out)


def _money_tick(value: float) -> str:
    return f"${value:.2f}" if value >= 0.1 or value == 0 else f"${value:.3g}"


def _quarter_position(date: str, first: str) -> float | None:
    """Quarters after the start of `first` ('2025 Q1') at which `date` (YYYY-MM-DD) falls, fractional."""
    try:
        year, month, day = int(date[:4]), int(date[5:7]), int(date[8:10])
    except ValueError:
        return None
    start = int(first[:4]) * 12 + (int(first[-1]) - 1) * 3
    return (year * 12 + month - 1 + (day - 1) / 31 - start) / 3


def trend_plot(quarters: Any, releases: dict[str, str | None], plot_width: int = 560, plot_height: int = 220,
               left: int = 50, top: int = 20) -> TrendPlot | None:
    """One line per model over the quarters that have a date; None without dated tasks."""
    groups = [g for g in quarters.groups if g.label[:1].isdigit()] if quarters else []
    if not groups:
        return None
    step = plot_width / len(groups)
    centre = [left + step * (i + 0.5) for i in range(len(groups))]
    models = [c.model for c in groups[0].cells]
    series = []
    for n, model in enumerate(models):
        dots = []
        for x, group in zip(centre, groups):
            cell = group.cells[n]
            if not cell.graded:
                continue
            rate = cell.resolved / cell.graded
            dots.append(Point(model, x, top + plot_height * (1 - rate), 0, 0,
                              f"{model}, {group.label}: {100 * rate:.0f}% ({cell.resolved}/{cell.graded})"))
        position = _quarter_position(releases.get(model) or "", groups[0].label)
        release_x = left + step * position if position is not None and 0 <= position <= len(groups) else None
        series.append(Series(model, PALETTE[n % len(PALETTE)], " ".join(f"{d.x:.1f},{d.y:.1f}" for d in dots), tuple(dots), release_x))
    every = math.ceil(len(groups) / 10)  # labels of a long history would overlap
    x_ticks = tuple(Tick(x, g.label) for i, (x, g) in enumerate(zip(centre, groups)) if i % every == 0)
    y_ticks = tuple(Tick(top + plot_height * (1 - v / 100), str(v)) for v in range(0, 101, 25))
    return TrendPlot(left + plot_width + 190, top + plot_height + 50, left, top, plot_width, plot_height, tuple(series), x_ticks, y_ticks)


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
