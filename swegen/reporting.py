"""The report stage: how each model did on the private tasks, against its public SWE-bench number.

Reads RUN_DIR/tasks.jsonl, validation_summary.json and evaluations/<model>/results.jsonl (the last
line per task wins, so a retried task counts once); writes RUN_DIR/report/report.html,
summary.json and report.md. Infrastructure errors never count as unresolved: they leave the
rates and are shown apart. The baselines "gold" and "empty" are controls, not competitors.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import jinja2

from swegen import __version__, costs, probe, report_plots, stats
from swegen.errors import BadInput, SwegenError
from swegen.records import finite, read_lines, read_tasks, to_dict, write_atomic, write_json
from swegen.resources import template_dir
from swegen.scores import PublicScore, load_scores, match, override_for, parse_overrides

#: Baseline "models" written by the evaluate stage: controls, never ranked.
BASELINES = ("gold", "empty")
#: A tampered run (canaries or the result stream caught the patch rewriting results) is graded:
#: unresolved, and shown apart.
GRADED = ("resolved", "unresolved", "empty_patch", "tampered")
LINE_BUCKETS = ((5, "1-5 lines"), (20, "6-20 lines"), (100, "21-100 lines"), (math.inf, "over 100 lines"))
FILE_BUCKETS = ((1, "1 file"), (3, "2-3 files"), (math.inf, "4+ files"))
#: A task folder's files the task table links to.
TASK_FILES = ("problem_statement.md", "problem_statement.original.md", "task.json", "gold.patch", "test.patch")
QUALITY_ORDER = ["ok", "thin", "leaky", "unknown"]
LEAK_BUCKETS = ((0.0, "leaks nothing"), (0.99, "names code only the fix adds"), (math.inf, "quotes the fix"))
#: Folders that hold a project's packages rather than being an area themselves.
CONTAINER_DIRS = frozenset({"src", "lib", "pkg", "packages", "python"})


# -- configuration and results -----------------------------------------------------------------


@dataclass(frozen=True)
class ReportConfig:
    """What to report on, and the facts a user supplies."""

    #: The run folder, with tasks.jsonl and evaluations/.
    run_dir: Path
    #: Public percent per model name, used instead of the shipped table (--public MODEL=PCT).
    public: dict[str, float] = field(default_factory=dict)
    #: Release date (YYYY-MM-DD) per model name, for the date split (--release MODEL=DATE).
    release: dict[str, str] = field(default_factory=dict)
    #: The public split to compare with: verified, lite, full or multilingual.
    benchmark: str = "verified"
    #: An extra public score table read before the shipped one.
    scores_file: Path | None = None
    #: Dollars per million input and output tokens per model name (--price MODEL=IN/OUT, --prices FILE).
    prices: dict[str, costs.Price] = field(default_factory=dict)

    @classmethod
    def from_options(cls, run_dir: Path, public: Iterable[str], release: Iterable[str], benchmark: str = "verified",
                     scores_file: Path | None = None, prices: Iterable[str] = (), prices_file: Path | None = None) -> ReportConfig:
        """Build from command-line MODEL=VALUE pairs, checking them (BadInput when malformed)."""
        return cls(run_dir, parse_overrides(public, "--public", _percent), parse_overrides(release, "--release", _iso_date),
                   benchmark, scores_file, costs.load_prices(prices, prices_file))


def _percent(text: str) -> float:
    value = float(text.rstrip("%"))
    if not 0 <= value <= 100:
        raise ValueError("a percent is between 0 and 100")
    return value


def _iso_date(text: str) -> str:
    return dt.date.fromisoformat(text).isoformat()


@dataclass(frozen=True)
class TaskInfo:
    """What the report needs of one task."""

    instance_id: str
    date: str
    lines_changed: int
    files_changed: int
    area: str
    statement_source: str
    #: "ok", "thin", "leaky" (swegen.restate), or "unknown" for a run restated by no swegen.
    statement_quality: str = "unknown"
    quality_reasons: tuple[str, ...] = ()
    statement_sources: tuple[str, ...] = ()
    #: Leakage of the statement as mined (before redaction; what is left is graded by quality).
    leakage_score: float = 0.0
    fail_to_pass: int = 0
    #: The task folder's files a reader may want, relative to the run folder.
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Counts:
    """One model's outcomes: tasks resolved among those graded, and those not graded."""

    resolved: int = 0
    graded: int = 0
    errors: int = 0
    missing: int = 0

    @property
    def rate(self) -> float:
        return self.resolved / self.graded if self.graded else math.nan


@dataclass(frozen=True)
class Release:
    """A model's release date, and where it came from."""

    date: str | None
    how: str


@dataclass(frozen=True)
class ModelScore:
    """One model: private rate with its interval, the public row used, and the gap between them."""

    name: str
    counts: Counts
    interval: stats.Interval
    public: PublicScore | None
    public_how: str
    gap: stats.Gap | None
    release: Release

    def terminal_cells(self) -> list[str]:
        c = self.counts
        public = f"{self.public.percent:g}%" if self.public else "-"
        gap = f"{100 * self.gap.gap:+.1f}" if self.gap else "-"
        gap_ci = f"{100 * self.gap.low:+.1f} to {100 * self.gap.high:+.1f}" if self.gap else "-"
        used = f"{self.public_how}: {self.public.system}, {self.public.date}" if self.public and self.public.date else self.public_how
        return [self.name, f"{_pct(self.interval.rate)} ({c.resolved}/{c.graded})", _ci(self.interval), public, gap, gap_ci,
                str(c.errors), used]


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    test: stats.PairTest


@dataclass(frozen=True)
class Ranking:
    """Whether the public order of the models holds on these tasks, in plain words."""

    #: "holds", "holds only in part", "does not hold", or "cannot tell".
    verdict: str
    sentence: str
    models: tuple[str, ...]
    public_order: tuple[str, ...]
    private_order: tuple[str, ...]
    tau: float | None
    p_value: float | None
    #: Pairs the private tasks order the other way round: (public winner, public loser, McNemar p).
    swapped: tuple[tuple[str, str, float], ...] = ()


@dataclass(frozen=True)
class Cell:
    model: str
    resolved: int
    graded: int


@dataclass(frozen=True)
class Group:
    label: str
    tasks: int
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Breakdown:
    title: str
    groups: tuple[Group, ...]


@dataclass(frozen=True)
class DateSplit:
    """A model's rate on fixes dated before its release and on/after it (a contamination signal)."""

    model: str
    release: Release
    before: Counts
    after: Counts
    p_value: float | None
    #: The split in plain words.
    sentence: str = ""

    def terminal_cells(self) -> list[str]:
        when = f"{self.release.date} ({self.release.how})" if self.release.date else self.release.how
        p = f"{self.p_value:.3g}" if self.p_value is not None and not math.isnan(self.p_value) else "-"
        return [self.model, when, _counted(self.before), _counted(self.after), p]


@dataclass(frozen=True)
class Controls:
    """Baselines and the run's own troubles, shown in every report."""

    gold: Counts | None
    empty: Counts | None
    #: Infrastructure errors per model (evaluation), baselines included.
    infra_errors: dict[str, int]
    #: Runs whose results the patch rewrote (caught by canaries or the result stream), per model.
    tampered: dict[str, int]
    #: From validation_summary.json; None when the run folder has none.
    validation_infra_errors: int | None
    flaky_tests_dropped: int | None

    def rows(self) -> list[tuple[str, str]]:
        rows = [("gold patch baseline (should resolve all)", _counted(self.gold) if self.gold else "not evaluated"),
                ("empty patch baseline (should resolve none)", _counted(self.empty) if self.empty else "not evaluated")]
        rows += [(f"infrastructure errors, {name}", str(n)) for name, n in self.infra_errors.items()]
        rows += [(f"tampered runs (counted unresolved), {name}", str(n)) for name, n in self.tampered.items()]
        unknown = "unknown (no validation_summary.json)"
        rows += [("infrastructure errors in validation", unknown if self.validation_infra_errors is None else str(self.validation_infra_errors)),
                 ("flaky tests dropped in validation", unknown if self.flaky_tests_dropped is None else str(self.flaky_tests_dropped))]
        return rows


@dataclass(frozen=True)
class Verdicts:
    """One model's rate under the SWE-bench rule and under the strict rule (where measured)."""

    model: str
    plain: Counts
    #: Tasks resolved under the strict rule, among the same graded tasks; None: never measured.
    strict_resolved: int | None
    #: Tasks resolved under the SWE-bench rule that evaluation gave no strict verdict.
    strict_unmeasured: int = 0


@dataclass(frozen=True)
class TaskRow:
    """One line of the task table: what the task is, how good its statement is, who solved it."""

    instance_id: str
    sources: tuple[str, ...]
    quality: str
    quality_reasons: tuple[str, ...]
    leakage_score: float
    fail_to_pass: int
    solved_by: tuple[str, ...]
    #: Models resolved under the SWE-bench rule but not under the strict one.
    strict_failed_by: tuple[str, ...]
    files: tuple[str, ...]


@dataclass(frozen=True)
class Power:
    """How big a difference this many tasks can see (alpha 0.05, power 0.8)."""

    tasks: int
    between_models: float
    against_public: float


@dataclass(frozen=True)
class Report:
    """Everything the report shows; summary.json is this record."""

    run_dir: str
    generated_at: str
    swegen_version: str
    benchmark: str
    tasks: int
    models: tuple[ModelScore, ...]
    pairs: tuple[Pair, ...]
    ranking: Ranking
    breakdowns: tuple[Breakdown, ...]
    date_split: tuple[DateSplit, ...]
    controls: Controls
    power: Power
    warnings: tuple[str, ...]
    #: Per task (in tasks.jsonl order), each model's status: resolved, unresolved, tampered, empty_patch, error, missing.
    task_ids: tuple[str, ...]
    grid: dict[str, tuple[str, ...]]
    verdicts: tuple[Verdicts, ...] = ()
    task_rows: tuple[TaskRow, ...] = ()
    #: Set when the run is swegen's demo: its "models" are stand-ins, not a measurement.
    demo_note: str = ""
    demo_stand_ins: dict[str, str] = field(default_factory=dict)
    #: Per model (in the order of `models`): wall time, tokens and money over its graded tasks.
    costs: tuple[costs.ModelCost, ...] = ()
    #: Rates by the quarter of the fix's date, every quarter from the first to the last (a trend).
    quarters: Breakdown | None = None
    #: The memorisation probe's figures per probed model (swegen probe), if run.
    probes: tuple[probe.ProbeSummary, ...] = ()


@dataclass(frozen=True)
class ReportResult:
    report: Report
    html: Path
    markdown: Path
    summary: Path


# -- the stage ---------------------------------------------------------------------------------


def make_report(config: ReportConfig) -> ReportResult:
    """Read the run folder, compute the report, and write report.html, summary.json and report.md."""
    run_dir = config.run_dir
    tasks = load_tasks(run_dir)
    outcomes = load_outcomes(run_dir)
    report = build_report(config, tasks, outcomes, _read_json(run_dir / "validation_summary.json"), unevaluated(run_dir),
                          load_strict(run_dir), _read_json(run_dir / "demo.json"), costs.load_usage(run_dir),
                          probe.load_summaries(run_dir))
    out = run_dir / "report"
    summary, html, markdown = out / "summary.json", out / "report.html", out / "report.md"
    write_json(summary, finite(to_dict(report)))
    variables = {"report": report, "plots": report_plots.plots(report), "fmt": FORMATTERS}
    write_atomic(html, _templates(html=True).get_template("report.html.j2").render(**variables))
    write_atomic(markdown, _templates(html=False).get_template("report.md.j2").render(**variables))
    return ReportResult(report, html, markdown, summary)


def _templates(html: bool) -> jinja2.Environment:
    # Model names and task ids come from files anyone can write: HTML output escapes them.
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())), autoescape=html,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)




def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path} is not JSON ({exc.msg})", hint="rerun the stage that wrote it") from None
    return data if isinstance(data, dict) else {}


def load_tasks(run_dir: Path) -> list[TaskInfo]:
    """The validated tasks, reduced to what the breakdowns need."""
    return [_task_info(data) for data in read_tasks(run_dir) if data.get("instance_id")]


def _task_info(data: dict[str, Any]) -> TaskInfo:
    from swegen.split import DiffError, parse_diff

    try:
        files = parse_diff(str(data.get("patch") or "").encode("utf-8"))
    except DiffError:
        files = []
    lines_by_area: Counter[str] = Counter()
    for diff in files:
        lines_by_area[_area(diff.path)] += max(diff.changed, 1)
    area = lines_by_area.most_common(1)[0][0] if lines_by_area else "(unknown)"
    source = str(data.get("statement_source") or "unknown")
    return TaskInfo(
        instance_id=str(data["instance_id"]), date=str(data.get("created_at") or "")[:10],
        lines_changed=sum(d.changed for d in files), files_changed=len(files), area=area,
        statement_source=source,
        statement_quality=str(data.get("statement_quality") or "unknown"),
        quality_reasons=tuple(str(r) for r in data.get("statement_quality_reasons") or ()),
        statement_sources=tuple(str(s) for s in data.get("statement_sources") or (source,)),
        leakage_score=float(data.get("leakage_score") or 0.0),
        fail_to_pass=len(data.get("FAIL_TO_PASS") or ()),
        files=tuple(f"{data['instance_id']}/{name}" for name in TASK_FILES),
    )


def _area(path: str) -> str:
    """The top-level area of a path: its first folder, or the package inside src/ or lib/."""
    parts = path.split("/")
    if len(parts) == 1:
        return "(root)"
    if parts[0] in CONTAINER_DIRS and len(parts) > 2:
        return f"{parts[0]}/{parts[1]}"
    return parts[0]


def load_outcomes(run_dir: Path) -> dict[str, dict[str, str]]:
    """Per model name, per instance id, its status; the last line per instance wins."""
    root = run_dir / "evaluations"
    folders = sorted(p for p in root.iterdir() if (p / "results.jsonl").exists()) if root.is_dir() else []
    if not folders:
        raise SwegenError(f"no evaluation results in {root}", hint=f"run `swegen evaluate {run_dir}` first")
    outcomes: dict[str, dict[str, str]] = {}
    for folder in folders:
        name = folder.name.replace("__", "/")
        statuses: dict[str, str] = {}
        for line in read_lines(folder / "results.jsonl"):
            if not line.get("instance_id"):
                continue
            name = str(line.get("model_name_or_path") or name)
            statuses[str(line["instance_id"])] = _status(line)
        outcomes[name] = statuses
    return outcomes


def load_strict(run_dir: Path) -> dict[str, dict[str, bool]]:
    """Per model, per instance id, its `strict_resolved` verdict, where evaluation measured one."""
    root = run_dir / "evaluations"
    strict: dict[str, dict[str, bool]] = {}
    for results in sorted(root.glob("*/results.jsonl")) if root.is_dir() else []:
        for line in read_lines(results):
            if line.get("instance_id") and isinstance(line.get("strict_resolved"), bool):
                name = str(line.get("model_name_or_path") or results.parent.name.replace("__", "/"))
                strict.setdefault(name, {})[str(line["instance_id"])] = line["strict_resolved"]
    return strict


def unevaluated(run_dir: Path) -> list[str]:
    """Prediction files whose model has no evaluation results yet."""
    predictions = sorted((run_dir / "predictions").glob("*.jsonl")) if (run_dir / "predictions").is_dir() else []
    return [f"predictions/{p.name}" for p in predictions if not (run_dir / "evaluations" / p.stem / "results.jsonl").exists()]


def _status(line: dict[str, Any]) -> str:
    status = str(line.get("status") or "")
    if status == "error" or line.get("infra_error"):
        return "error"
    if line.get("tampered"):
        return "tampered"
    if status in GRADED:
        return status
    return "resolved" if line.get("resolved") else "unresolved"


# -- computing ---------------------------------------------------------------------------------


def build_report(config: ReportConfig, tasks: list[TaskInfo], outcomes: dict[str, dict[str, str]],
                 validation: dict[str, Any], not_evaluated: Iterable[str] = (),
                 strict: dict[str, dict[str, bool]] | None = None, demo: dict[str, Any] | None = None,
                 usage: dict[str, dict[str, costs.Usage]] | None = None, probes: tuple[probe.ProbeSummary, ...] = ()) -> Report:
    """The whole report from the loaded run (a pure function of its inputs and the score table)."""
    ids = [t.instance_id for t in tasks]
    grid = {name: tuple(statuses.get(i, "missing") for i in ids) for name, statuses in outcomes.items()}
    table = load_scores(config.scores_file)
    scored = [_model_score(config, name, grid[name], table) for name in outcomes if name not in BASELINES]
    models = tuple(sorted(scored, key=lambda m: (-(0 if math.isnan(m.interval.rate) else m.interval.rate), m.name)))
    competitors = [m.name for m in models]
    pairs = tuple(Pair(a, b, stats.mcnemar_exact(*_paired(grid[a], grid[b]))) for a, b in combinations(competitors, 2))
    mean_rate = _mean([m.interval.rate for m in models if not math.isnan(m.interval.rate)]) or 0.5
    power = Power(len(ids), stats.detectable_difference(len(ids), mean_rate), stats.detectable_difference(len(ids), mean_rate, one_sample=True))
    controls = _controls(grid, validation)
    date_split = tuple(_date_split(m, tasks, grid[m.name]) for m in models)
    return Report(
        run_dir=str(config.run_dir), generated_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        swegen_version=__version__, benchmark=config.benchmark, tasks=len(ids), models=models, pairs=pairs,
        ranking=rank_verdict(models, pairs), breakdowns=_breakdowns(tasks, {m.name: grid[m.name] for m in models}),
        date_split=date_split, controls=controls, power=power,
        warnings=tuple(_warnings(models, controls, power, outcomes, set(ids)) + [
            f"{path} has no evaluation, so it is not in this report: run `swegen evaluate {config.run_dir}`" for path in not_evaluated]),
        task_ids=tuple(ids), grid=grid,
        verdicts=tuple(_verdicts(m.name, grid[m.name], ids, (strict or {}).get(m.name, {})) for m in models),
        task_rows=_task_rows(tasks, {m.name: grid[m.name] for m in models}, strict or {}, config.run_dir),
        demo_note=str((demo or {}).get("note") or ""),
        demo_stand_ins={str(k): str(v) for k, v in ((demo or {}).get("stand_ins") or {}).items()},
        costs=costs.model_costs({name: dict(zip(ids, grid[name])) for name in competitors}, usage or {}, config.prices, competitors),
        quarters=_quarters(tasks, {m.name: grid[m.name] for m in models}),
        probes=probes,
    )


def _verdicts(name: str, statuses: tuple[str, ...], ids: list[str], strict: dict[str, bool]) -> Verdicts:
    """The strict rate has the SWE-bench rate's denominator: a task unresolved under the SWE-bench
    rule is not strictly resolved either; a resolved one with no strict verdict is counted as not
    strictly resolved and said so (never guessed); a model with no verdict at all is not measured."""
    plain = count(statuses)
    if not strict:
        return Verdicts(name, plain, None)
    resolved = [i for s, i in zip(statuses, ids) if s == "resolved"]
    return Verdicts(name, plain, sum(1 for i in resolved if strict.get(i) is True), sum(1 for i in resolved if i not in strict))


def _task_rows(tasks: list[TaskInfo], grid: dict[str, tuple[str, ...]], strict: dict[str, dict[str, bool]],
               run_dir: Path) -> tuple[TaskRow, ...]:
    rows = []
    for n, task in enumerate(tasks):
        solved = tuple(name for name, statuses in grid.items() if statuses[n] == "resolved")
        not_strict = tuple(name for name in solved if strict.get(name, {}).get(task.instance_id) is False)
        files = tuple(f for f in task.files if (run_dir / f).exists())
        rows.append(TaskRow(task.instance_id, task.statement_sources, task.statement_quality, task.quality_reasons,
                            task.leakage_score, task.fail_to_pass, solved, not_strict, files))
    return tuple(rows)


def count(statuses: Iterable[str]) -> Counts:
    tally = Counter(statuses)
    return Counts(tally["resolved"], sum(tally[s] for s in GRADED), tally["error"], tally["missing"])


def _model_score(config: ReportConfig, name: str, statuses: tuple[str, ...], table: list[PublicScore]) -> ModelScore:
    counts = count(statuses)
    found = match(name, table, config.benchmark, override_for(name, config.public))
    gap = None
    if found.row is not None and counts.graded:
        public_counts = found.row.counts()
        gap = stats.gap(counts.resolved, counts.graded, found.row.percent, *(public_counts or (None, None)))
    return ModelScore(name, counts, stats.wilson(counts.resolved, counts.graded), found.row, found.how, gap,
                      _release(name, config.release, found.rows))


def _release(name: str, given: dict[str, str], rows: Iterable[PublicScore]) -> Release:
    date = override_for(name, given)
    if date:
        return Release(date, "given with --release")
    stated = sorted(r.release_date for r in rows if r.release_date)
    if stated:
        return Release(stated[0], "release date from the leaderboard")
    dated = sorted((r for r in rows if r.date), key=lambda r: r.date)
    if dated:
        return Release(dated[0].date, f"assumed: earliest public score ({dated[0].system}), not a release date")
    return Release(None, "unknown: no --release and no public score names this model")


def _paired(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[list[bool], list[bool]]:
    shared = [(a, b) for a, b in zip(first, second) if a in GRADED and b in GRADED]
    return [a == "resolved" for a, _ in shared], [b == "resolved" for _, b in shared]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def rank_verdict(models: Iterable[ModelScore], pairs: Iterable[Pair]) -> Ranking:
    """Kendall's tau between public and private orders, and a verdict that McNemar tests back."""
    ranked = [m for m in models if m.public is not None and m.counts.graded]
    names = tuple(m.name for m in ranked)
    public_order = tuple(m.name for m in sorted(ranked, key=lambda m: -m.public.percent))  # type: ignore[union-attr]
    private_order = tuple(m.name for m in sorted(ranked, key=lambda m: -m.interval.rate))
    if len(ranked) < 2:
        sentence = "Cannot tell whether the public ranking holds on this codebase: fewer than two models have a public score."
        return Ranking("cannot tell", sentence, names, public_order, private_order, None, None)
    agreement = stats.rank_agreement([m.public.percent for m in ranked], [m.interval.rate for m in ranked])  # type: ignore[union-attr]
    tests = {frozenset((p.first, p.second)): p.test.p_value for p in pairs}
    swapped = []
    for a, b in combinations(ranked, 2):
        high, low = (a, b) if a.public.percent >= b.public.percent else (b, a)  # type: ignore[union-attr]
        if high.public.percent > low.public.percent and low.interval.rate > high.interval.rate:  # type: ignore[union-attr]
            swapped.append((high.name, low.name, tests.get(frozenset((a.name, b.name)), math.nan)))
    significant = [s for s in swapped if s[2] < stats.ALPHA]
    if math.isnan(agreement.tau):
        sentence = "Cannot tell whether the public ranking holds on this codebase: the models tie here or in public."
        return Ranking("cannot tell", sentence, names, public_order, private_order, None, None)
    if not swapped:
        verdict = "holds"
    elif significant or agreement.tau <= 0:
        verdict = "does not hold"
    else:
        verdict = "holds only in part"
    any_significant = any(p.test.p_value < stats.ALPHA for p in pairs if p.first in names and p.second in names)
    sentence = _ranking_sentence(verdict, agreement, swapped, significant, len(ranked), any_significant)
    return Ranking(verdict, sentence, names, public_order, private_order, agreement.tau, agreement.p_value, tuple(swapped))


def _ranking_sentence(verdict: str, agreement: stats.RankAgreement, swapped: list[tuple[str, str, float]],
                      significant: list[tuple[str, str, float]], n: int, any_significant: bool) -> str:
    tau = f"Kendall's tau = {agreement.tau:+.2f}, p = {agreement.p_value:.2g}, {n} models"
    head = f"The public ranking {verdict} on this codebase ({tau})."
    if not swapped:
        if any_significant:
            return head + " Every model keeps its public place."
        return head + " Every model keeps its public place, but no two differ significantly here, so the agreement is weak evidence."
    listed = "; ".join(f"{b} beats {a} here (McNemar p = {p:.2g})" for a, b, p in swapped)
    if significant:
        return f"{head} Reversed: {listed}. {len(significant)} reversal(s) are significant at 5%."
    return f"{head} Reversed: {listed}. No reversal is significant at 5%: more tasks would be needed to be sure."


def _bucket(value: float, buckets: tuple[tuple[float, str], ...]) -> str:
    return next(label for limit, label in buckets if value <= limit)


def _breakdowns(tasks: list[TaskInfo], grid: dict[str, tuple[str, ...]]) -> tuple[Breakdown, ...]:
    dimensions = (
        ("lines changed by the fix", lambda t: _bucket(t.lines_changed, LINE_BUCKETS), [label for _, label in LINE_BUCKETS]),
        ("files changed by the fix", lambda t: _bucket(t.files_changed, FILE_BUCKETS), [label for _, label in FILE_BUCKETS]),
        ("area of the repository", lambda t: t.area, None),
        ("statement source", lambda t: t.statement_source, None),
        ("statement quality", lambda t: t.statement_quality, QUALITY_ORDER),
        ("leakage of the statement as mined", lambda t: _bucket(t.leakage_score, LEAK_BUCKETS), [label for _, label in LEAK_BUCKETS]),
    )
    return tuple(_breakdown(title, [key(t) for t in tasks], grid, order) for title, key, order in dimensions)


def _breakdown(title: str, labels: list[str], grid: dict[str, tuple[str, ...]], order: list[str] | None) -> Breakdown:
    present = Counter(labels)
    keys = [k for k in order if k in present] if order else sorted(present, key=lambda k: (-present[k], k))
    groups = []
    for key in keys:
        cells = []
        for model, statuses in grid.items():
            picked = count(s for s, label in zip(statuses, labels) if label == key)
            cells.append(Cell(model, picked.resolved, picked.graded))
        groups.append(Group(key, present[key], tuple(cells)))
    return Breakdown(title, tuple(groups))


NO_DATE = "(no date)"


def quarter(date: str) -> str:
    """'2025-08-07' -> '2025 Q3'; '' for a date that is not YYYY-MM-DD."""
    try:
        day = dt.date.fromisoformat(date[:10])
    except ValueError:
        return ""
    return f"{day.year} Q{(day.month - 1) // 3 + 1}"


def _quarter_range(first: str, last: str) -> list[str]:
    (year, q), (end_year, end_q) = ((int(x[:4]), int(x[-1])) for x in (first, last))
    labels = []
    while (year, q) <= (end_year, end_q):
        labels.append(f"{year} Q{q}")
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)
    return labels


def _quarters(tasks: list[TaskInfo], grid: dict[str, tuple[str, ...]]) -> Breakdown | None:
    """Each model's rate per quarter of the fix's date, with every quarter between the first and
    the last (a quarter without tasks shows as such, so the time axis is true); undated tasks last."""
    labels = [quarter(t.date) or NO_DATE for t in tasks]
    dated = sorted(label for label in labels if label != NO_DATE)
    if not dated:
        return None
    order = _quarter_range(dated[0], dated[-1]) + [NO_DATE]
    found = _breakdown("quarter of the fix", labels, grid, order)
    by_label = {g.label: g for g in found.groups}
    empty = tuple(Cell(model, 0, 0) for model in grid)
    return Breakdown(found.title, tuple(by_label.get(label, Group(label, 0, empty)) for label in order if label in by_label or label != NO_DATE))


def _date_split(model: ModelScore, tasks: list[TaskInfo], statuses: tuple[str, ...]) -> DateSplit:
    release = model.release.date
    if release is None:
        return DateSplit(model.name, model.release, Counts(), Counts(), None, f"{model.name}: no release date, so no split; give one with --release")
    before = count(s for s, t in zip(statuses, tasks) if t.date and t.date < release)
    after = count(s for s, t in zip(statuses, tasks) if t.date and t.date >= release)
    p = stats.fisher_exact(before.resolved, before.graded, after.resolved, after.graded)
    p_value = None if math.isnan(p) else p
    return DateSplit(model.name, model.release, before, after, p_value, _date_sentence(model.name, release, before, after, p_value))


def _date_sentence(name: str, release: str, before: Counts, after: Counts, p: float | None) -> str:
    if p is None:
        return f"{name}: every graded task is on one side of {release}, so the date split says nothing"
    if before.rate == after.rate:
        direction = "the same"
    else:
        direction = "better" if before.rate > after.rate else "worse"
    verdict = "significant at 5%: a sign of contamination" if p < stats.ALPHA and before.rate > after.rate else (
        "significant at 5%" if p < stats.ALPHA else "not significant at 5%")
    return (f"{name} does {direction} on fixes older than its release ({_pct(before.rate)} against {_pct(after.rate)}; "
            f"Fisher p = {p:.2g}, {verdict})")


def _controls(grid: dict[str, tuple[str, ...]], validation: dict[str, Any]) -> Controls:
    return Controls(
        gold=count(grid["gold"]) if "gold" in grid else None,
        empty=count(grid["empty"]) if "empty" in grid else None,
        infra_errors={name: count(statuses).errors for name, statuses in grid.items()},
        tampered={name: statuses.count("tampered") for name, statuses in grid.items()},
        validation_infra_errors=int(validation["infra_errors"]) if "infra_errors" in validation else None,
        flaky_tests_dropped=int(validation["flaky_tests"]) if "flaky_tests" in validation else None,
    )


def _warnings(models: tuple[ModelScore, ...], controls: Controls, power: Power, outcomes: dict[str, dict[str, str]],
              task_ids: set[str]) -> list[str]:
    warnings = []
    if 100 * power.between_models > stats.MDE_WARNING_POINTS:
        warnings.append(
            f"too few tasks: with {power.tasks} tasks, two models must differ by about {100 * power.between_models:.0f} points, "
            f"and a model must differ from its public number by about {100 * power.against_public:.0f} points, "
            "before a difference can be told from chance (5% level, 80% power)")
    if controls.gold is not None and controls.gold.resolved < controls.gold.graded:
        warnings.append(f"the gold patches resolve only {_counted(controls.gold)}: some tasks or their environments are broken")
    if controls.empty is not None and controls.empty.resolved:
        warnings.append(f"the empty patch resolves {_counted(controls.empty)}: some tasks pass without a fix")
    for name, statuses in outcomes.items():
        unknown = set(statuses) - task_ids
        if unknown:
            warnings.append(f"{name}: {len(unknown)} result(s) for tasks not in tasks.jsonl were ignored")
    for model in models:
        if model.counts.missing:
            warnings.append(f"{model.name}: {model.counts.missing} task(s) not evaluated (left out of its rate)")
        if model.counts.errors:
            warnings.append(f"{model.name}: {model.counts.errors} infrastructure error(s) left out of its rate; retry them")
        if model.public is None:
            warnings.append(f"{model.name}: {model.public_how}; give one with --public {model.name}=PCT")
    return warnings


# -- formatting helpers shared with the templates ----------------------------------------------


def _pct(rate: float) -> str:
    return "-" if math.isnan(rate) else f"{100 * rate:.1f}%"


def _ci(interval: stats.Interval) -> str:
    return "-" if math.isnan(interval.rate) else f"{100 * interval.low:.1f}-{100 * interval.high:.1f}%"


def _counted(counts: Counts | None) -> str:
    if counts is None or not counts.graded:
        return "no tasks"
    return f"{_pct(counts.rate)} ({counts.resolved}/{counts.graded})"


def _p(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3g}"


def _points(value: float) -> str:
    return f"{100 * value:+.1f}"


FORMATTERS = {"pct": _pct, "ci": _ci, "counted": _counted, "p": _p, "points": _points, "count": count,
              "seconds": costs.seconds, "tokens": costs.tokens, "dollars": costs.dollars, "price": costs.price, "turns": costs.turns,
              "share": lambda v: "-" if v is None or math.isnan(v) else f"{100 * v:.0f}%"}
