"""The memorisation probe: can a model name a fix's files and write its lines without seeing any code?

A model that has the repository's history in its training data can often reproduce a fix from
the issue alone. `probe` asks a model behind an OpenAI-compatible endpoint, for each validated
task, with only the repository's name and the problem statement (templates/probe_prompt.j2), to
name the files it would change and write the patch; then scores the answer against gold:

- file-path recall: the share of the gold patch's files the answer names (in its list or its patch);
- patch-line overlap: the share of the gold patch's changed lines (`+` and `-`, whitespace
  collapsed, lines with no word of two letters left out) that the answer's patch has too.

The baseline asks the same with the statement of another task of the run (a fixed derangement:
each task gets the next one's statement) and scores that answer against this task's gold: what
guessing from the repository's name alone gives. A task is *recalled* when the answer's patch
reproduces at least MIN_OVERLAP of gold's lines and beats the baseline by MIN_MARGIN. Figures are
split by the task's date against the model's release date: recall that is high before the
release and gone after it is memorisation, not skill.

Results go to RUN_DIR/probe/<model>.jsonl (a line per task as it finishes; run again to resume)
and RUN_DIR/probe/<model>.summary.json; `swegen report` shows them. A request the endpoint fails
(after the retries) is an infrastructure error: that task is in no figure and is asked again
by the next run.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import jinja2

from swegen import stats
from swegen.errors import BadInput, InfrastructureDown, SwegenError
from swegen.llm import ChatFailed, RetryPolicy, chat, chat_endpoint
from swegen.predictions import model_dir_name
from swegen.records import JsonlWriter, finite, from_dict, read_lines, read_tasks, to_dict, write_json
from swegen.resources import template_dir

#: A task is recalled when the answer reproduces at least this share of gold's changed lines...
MIN_OVERLAP = 0.5
#: ...and this much more of them than the answer to another task's statement did.
MIN_MARGIN = 0.25
#: The raw reply kept in each line, for a reader to check the figures (characters).
KEEP_REPLY = 20_000
SIDES = ("before", "after", "unknown")
#: A changed line counts when it has a word of two letters or more (not a lone "}" or ")").
_WORDY = re.compile(r"[A-Za-z_]\w")

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class ProbeConfig:
    """Which model to probe, where, and on which run."""

    #: The run folder, with tasks.jsonl.
    run_dir: Path
    #: Base URL of the OpenAI-compatible endpoint (…/v1).
    base_url: str
    #: The model name sent to the endpoint; it also names the results file.
    model: str
    #: The model's release date (YYYY-MM-DD); None: from the public score table, else unknown.
    release: str | None = None
    #: The environment variable holding the API key (none needed for a local server).
    api_key_env: str = "OPENAI_API_KEY"
    #: Seconds one request may take.
    timeout: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    #: Probe at most this many tasks (in tasks.jsonl order); None: all.
    limit: int | None = None
    #: Stop after this many infrastructure errors in a row (0: never).
    max_infra_errors: int = 5


@dataclass(frozen=True)
class Answer:
    """One reply, and how much of gold it reproduces."""

    files: tuple[str, ...]
    file_recall: float
    line_overlap: float
    reply: str = ""
    #: Why the model gave no usable reply (a refused request), if so; it still scores 0.
    error: str = ""


@dataclass(frozen=True)
class ProbeLine:
    """One line of probe/<model>.jsonl: the probe of one task."""

    instance_id: str
    model: str
    date: str
    release: str | None
    gold_files: tuple[str, ...]
    real: dict[str, Any] | None
    shuffled: dict[str, Any] | None
    #: The task whose statement the baseline was asked with.
    shuffled_from: str | None
    recalled: bool
    prompt_tokens: int | None
    completion_tokens: int | None
    seconds: float
    infra_error: str | None = None


@dataclass(frozen=True)
class Side:
    """Mean figures over the tasks on one side of the release date."""

    side: str
    tasks: int
    file_recall: float
    file_recall_shuffled: float
    line_overlap: float
    line_overlap_shuffled: float
    recalled: int


@dataclass(frozen=True)
class ProbeSummary:
    """One model's probe: per side of its release, the figures; the tasks it recalled."""

    model: str
    release: str | None
    release_how: str
    sides: tuple[Side, ...]
    recalled_ids: tuple[str, ...]
    infra_errors: int
    #: Fisher's exact test of recalled tasks before against after the release.
    p_value: float | None
    sentence: str


# -- scoring (pure) ----------------------------------------------------------------------------


def _clean_path(path: str) -> str:
    path = path.strip().strip("`'\"").split("\t", 1)[0].strip()
    for prefix in ("a/", "b/", "./", "/"):
        if path.startswith(prefix):
            path = path[len(prefix):]
    return path


def diff_files(patch: str) -> list[str]:
    """The paths a unified diff touches, in order, once each."""
    found: list[str] = []
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            parts = line.split()
            paths = [parts[-1]] if len(parts) >= 4 else []
        elif line.startswith(("+++ ", "--- ")):
            paths = [line[4:]]
        else:
            continue
        for path in map(_clean_path, paths):
            if path and path != "dev/null" and path not in found:
                found.append(path)
    return found


def changed_lines(patch: str) -> set[tuple[str, str]]:
    """The (sign, text) of each added and removed line of a diff, whitespace collapsed."""
    lines = set()
    for line in patch.splitlines():
        if line.startswith(("+++ ", "--- ")) or not line[:1] in ("+", "-"):
            continue
        text = " ".join(line[1:].split())
        if _WORDY.search(text):
            lines.add((line[0], text))
    return lines


def parse_answer(reply: str) -> tuple[list[str], str]:
    """The files a reply names under FILES: (and in its patch), and its patch."""
    fenced = re.search(r"```(?:diff|patch)?[^\n]*\n(.*?)```", reply, re.DOTALL)
    if fenced:
        patch = fenced.group(1)
    else:
        start = re.search(r"^(?:diff --git |--- )", reply, re.MULTILINE)
        patch = reply[start.start():] if start else ""
    listed: list[str] = []
    block = re.search(r"FILES:\s*\n(.*?)(?:\n\s*\n|PATCH:|```|\Z)", reply, re.DOTALL | re.IGNORECASE)
    for raw in (block.group(1).splitlines() if block else []):
        path = _clean_path(raw.lstrip("-*• ").strip())
        if path and " " not in path and path not in listed:
            listed.append(path)
    return listed + [p for p in diff_files(patch) if p not in listed], patch


def score(reply: str, gold_patch: str, error: str = "") -> Answer:
    """How much of the gold patch a reply reproduces."""
    files, patch = parse_answer(reply)
    gold_files = set(diff_files(gold_patch))
    gold_lines = changed_lines(gold_patch)
    recall = len(gold_files & set(files)) / len(gold_files) if gold_files else 0.0
    overlap = len(gold_lines & changed_lines(patch)) / len(gold_lines) if gold_lines else 0.0
    return Answer(tuple(files), round(recall, 4), round(overlap, 4), reply[:KEEP_REPLY], error)


def recalled(real: Answer, shuffled: Answer | None) -> bool:
    """Reproduced most of gold's lines, and far more than a guess from another task's statement."""
    baseline = shuffled.line_overlap if shuffled else 0.0
    return real.line_overlap >= MIN_OVERLAP and real.line_overlap - baseline >= MIN_MARGIN


def shuffled_pairs(ids: list[str]) -> dict[str, str | None]:
    """Each task's baseline statement: the next task's in sorted order (a derangement: never its own)."""
    ordered = sorted(ids)
    if len(ordered) < 2:
        return {i: None for i in ordered}
    return {task: ordered[(n + 1) % len(ordered)] for n, task in enumerate(ordered)}


def side_of(date: str, release: str | None) -> str:
    if not release or not date:
        return "unknown"
    return "before" if date[:10] < release else "after"


# -- the stage ---------------------------------------------------------------------------------


def release_of(model: str, given: str | None) -> tuple[str | None, str]:
    """The release date to split on, and where it came from (as the report finds it)."""
    from swegen.scores import load_scores, rows_for

    if given:
        return given, "given with --release"
    rows = rows_for(model, load_scores())
    stated = sorted(r.release_date for r in rows if r.release_date)
    if stated:
        return stated[0], "release date from the leaderboard"
    dated = sorted(r.date for r in rows if r.date)
    if dated:
        return dated[0], "assumed: earliest public score, not a release date"
    return None, "unknown: no --release and no public score names this model"


def _check(config: ProbeConfig) -> None:
    chat_endpoint(config.base_url)  # BadInput for a URL that is not http(s)
    if not config.model.strip():
        raise BadInput("--model is empty", hint="name the model the endpoint serves")
    if config.limit is not None and config.limit < 1:
        raise BadInput(f"--limit {config.limit}", hint="give 1 or more")
    if config.max_infra_errors < 0:
        raise BadInput(f"max_infra_errors is {config.max_infra_errors}", hint="give 0 or more")


def probe(config: ProbeConfig, progress: Progress = lambda stage, done, total: None) -> ProbeSummary:
    """Probe every validated task of the run (resuming), write probe/<model>.jsonl and its summary."""
    _check(config)
    tasks = read_tasks(config.run_dir)
    if not tasks:
        raise SwegenError(f"{config.run_dir} has no validated tasks to probe", hint=f"run `swegen validate {config.run_dir}` first")
    release, how = release_of(config.model, config.release)
    out = results_file(config.run_dir, config.model)
    done = {row["instance_id"] for row in read_lines(out) if row.get("instance_id") and not row.get("infra_error")}
    by_id = {t["instance_id"]: t for t in tasks}
    pairs = shuffled_pairs(list(by_id))
    pending = [t for t in tasks if t["instance_id"] not in done][: config.limit]
    ask = _asker(config)
    streak = 0
    progress("probing", 0, len(pending))
    with JsonlWriter(out) as sink:
        for n, task in enumerate(pending, 1):
            other = pairs[task["instance_id"]]
            line = probe_task(task, by_id[other] if other else None, release, ask, config.model)
            sink.write(line)
            progress("probing", n, len(pending))
            streak = streak + 1 if line.infra_error else 0
            if config.max_infra_errors and streak >= config.max_infra_errors:
                raise InfrastructureDown(f"the endpoint failed {streak} probes in a row (last: {line.infra_error})",
                                         hint="check the endpoint, then run the same command again: finished tasks are kept")
    summary = summarise(config.model, read_lines(out), release, how)
    write_json(out.with_name(out.stem + ".summary.json"), finite(to_dict(summary)))
    return summary


def results_file(run_dir: Path, model: str) -> Path:
    return run_dir / "probe" / f"{model_dir_name(model)}.jsonl"


@dataclass(frozen=True)
class _Reply:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    error: str = ""


def _asker(config: ProbeConfig) -> Callable[[str, str], _Reply]:
    """A function (repo, statement) -> reply; raises ChatFailed (infra) when the endpoint fails."""
    endpoint = chat_endpoint(config.base_url)
    api_key = os.environ.get(config.api_key_env) or None
    template = _template()

    def ask(repo: str, statement: str) -> _Reply:
        prompt = template.render(repo=repo, statement=statement)
        try:
            reply = chat(endpoint, config.model, [{"role": "user", "content": prompt}], api_key=api_key,
                         timeout=config.timeout, retry=config.retry)
        except ChatFailed as exc:
            if exc.infra:
                raise
            return _Reply("", None, None, str(exc))  # the model refused this request: it recalled nothing
        return _Reply(reply.text, reply.prompt_tokens, reply.completion_tokens)

    return ask


def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    return env.get_template("probe_prompt.j2")


def probe_task(task: dict[str, Any], other: dict[str, Any] | None, release: str | None,
               ask: Callable[[str, str], _Reply], model: str) -> ProbeLine:
    """Ask with the task's own statement and with another's; score both against this task's gold."""
    started = time.monotonic()
    gold = str(task.get("patch") or "")
    repo = str(task.get("repo") or "")
    date = str(task.get("created_at") or "")[:10]
    head = dict(instance_id=task["instance_id"], model=model, date=date, release=release, gold_files=tuple(diff_files(gold)),
                shuffled_from=other["instance_id"] if other else None)
    try:
        asked = [ask(repo, str(task.get("problem_statement") or ""))]
        if other:
            asked.append(ask(repo, str(other.get("problem_statement") or "")))
    except ChatFailed as exc:
        return ProbeLine(**head, real=None, shuffled=None, recalled=False, prompt_tokens=None, completion_tokens=None,
                         seconds=round(time.monotonic() - started, 3), infra_error=str(exc))
    real = score(asked[0].text, gold, asked[0].error)
    shuffled = score(asked[1].text, gold, asked[1].error) if other else None
    return ProbeLine(
        **head, real=to_dict(real), shuffled=to_dict(shuffled) if shuffled else None, recalled=recalled(real, shuffled),
        prompt_tokens=_sum(a.prompt_tokens for a in asked), completion_tokens=_sum(a.completion_tokens for a in asked),
        seconds=round(time.monotonic() - started, 3),
    )


def _sum(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


# -- the figures -------------------------------------------------------------------------------


def summarise(model: str, rows: Iterable[dict[str, Any]], release: str | None, how: str) -> ProbeSummary:
    """The figures of a model's probe lines (the last line per task wins; infra errors left out)."""
    last: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("instance_id"):
            last[str(row["instance_id"])] = row
    graded = {i: r for i, r in last.items() if not r.get("infra_error") and r.get("real")}
    sides = []
    for side in SIDES:
        chosen = [r for r in graded.values() if side_of(str(r.get("date") or ""), release) == side]
        if chosen or side != "unknown":
            sides.append(_side(side, chosen))
    recalled_ids = tuple(sorted(i for i, r in graded.items() if r.get("recalled")))
    before, after = sides[0], sides[1]
    p = stats.fisher_exact(before.recalled, before.tasks, after.recalled, after.tasks)
    p_value = None if p != p else p
    infra = sum(1 for r in last.values() if r.get("infra_error"))
    return ProbeSummary(model, release, how, tuple(sides), recalled_ids, infra, p_value,
                        _sentence(model, release, before, after, p_value, len(graded)))


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _side(side: str, rows: list[dict[str, Any]]) -> Side:
    real = [from_dict(Answer, r["real"]) for r in rows]
    shuffled = [from_dict(Answer, r["shuffled"]) for r in rows if r.get("shuffled")]
    return Side(side, len(rows), _mean([a.file_recall for a in real]), _mean([a.file_recall for a in shuffled]),
                _mean([a.line_overlap for a in real]), _mean([a.line_overlap for a in shuffled]),
                sum(1 for r in rows if r.get("recalled")))


def _sentence(model: str, release: str | None, before: Side, after: Side, p: float | None, probed: int) -> str:
    if not probed:
        return f"{model}: no task probed yet"
    if not release:
        return f"{model}: no release date, so no before/after split; give one with --release"
    if p is None:
        return f"{model}: every probed task is on one side of {release}, so the probe cannot compare before and after"
    verdict = "significant at 5%: a sign of memorisation" if p < stats.ALPHA and before.recalled / before.tasks > after.recalled / after.tasks \
        else ("significant at 5%" if p < stats.ALPHA else "not significant at 5%")
    return (f"{model} reproduced the fix from the statement alone on {before.recalled} of {before.tasks} tasks before its release "
            f"({release}) and {after.recalled} of {after.tasks} after (Fisher p = {p:.2g}, {verdict})")


def load_summaries(run_dir: Path) -> tuple[ProbeSummary, ...]:
    """Every probed model's figures, from probe/*.jsonl (with the release date its lines used)."""
    folder = run_dir / "probe"
    summaries = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        rows = list(read_lines(path))
        if not rows:
            continue
        model = str(rows[-1].get("model") or path.stem.replace("__", "/"))
        release = rows[-1].get("release")
        how = "as the probe used it"
        summaries.append(summarise(model, rows, str(release) if release else None, how))
    return tuple(summaries)


