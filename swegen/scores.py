"""Published SWE-bench scores, and the matcher that finds a model's public row.

The table ships as swegen/data/public_scores.csv: facts (model, system, benchmark, percent,
resolved, total, attempts, date) each with the source it was read from. `swegen scores update`
adds rows read from the official leaderboard JSON into a user file, never into the package.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from swegen.errors import BadInput
from swegen.records import write_atomic

BENCHMARKS = ("verified", "lite", "full", "multilingual")
#: Tasks in each public split, for deriving a count from a published percent.
SPLIT_SIZE = {"verified": 500, "lite": 300, "full": 2294, "multilingual": 300}
#: Leaderboard names in the official JSON, and the split each one scores.
LEADERBOARDS = {"bash-only": "verified", "verified": "verified", "lite": "lite", "test": "full", "full": "full", "multilingual": "multilingual"}
#: Which rows to trust first: the bash-only board runs every model in one minimal scaffold, like
#: swegen's own runs; then checked leaderboard submissions; vendor figures come last.
BOARD_RANK = {"bash-only": 0, "Verified": 1, "Lite": 1, "Test": 1, "Multilingual": 1, "post": 2, "third-party": 3, "vendor": 4}
#: Words that tell nothing about which model it is.
NOISE = frozenset({"", "preview", "latest"})


@dataclass(frozen=True)
class PublicScore:
    """One published score, as read from its source."""

    #: Readable model name.
    model: str
    #: The exact model tag(s) the leaderboard gives, "|"-separated; empty when the source has none.
    model_tag: str
    #: The agent or scaffold ("mini-SWE-agent v1.17.2 (bash-only)", "vendor-reported", ...).
    system: str
    #: Where it was published: a leaderboard name, "vendor", "third-party", "post" or "user".
    board: str
    benchmark: str
    #: "1", "2+", or "" when the source does not say.
    attempts: str
    percent: float
    resolved: int | None
    total: int | None
    #: Submission or publication date, YYYY-MM-DD.
    date: str
    source: str
    #: Submission folder in SWE-bench/experiments, when there is one.
    folder: str = ""
    #: The model's release date, when the source gives it.
    release_date: str = ""

    @property
    def same_scaffold(self) -> bool:
        return self.board == "bash-only"

    def counts(self) -> tuple[int, int] | None:
        """(resolved, total) when both are known and agree with the published percent."""
        if self.resolved is None or not self.total:
            return None
        return (self.resolved, self.total) if abs(100 * self.resolved / self.total - self.percent) < 0.05 else None

    def describe(self) -> str:
        """One line naming the number, its scaffold, split, date and source."""
        count = f" ({self.resolved}/{self.total})" if self.resolved is not None and self.total else ""
        attempts = f", {self.attempts} attempt(s)" if self.attempts else ""
        when = f", {self.date}" if self.date else ""
        return f"{self.percent:g}%{count} on SWE-bench {self.benchmark.capitalize()}, {self.system}{attempts}{when}; source: {self.source}"


@dataclass(frozen=True)
class PublicMatch:
    """The public row chosen for one model of a run, and why."""

    #: The model name as the predictions give it.
    name: str
    #: The row used, or None when no public score is known on the chosen split.
    row: PublicScore | None
    #: How it was chosen, in words, e.g. "same scaffold (bash-only board)".
    how: str
    #: Every row that names this model (any split), for the release-date fallback.
    rows: tuple[PublicScore, ...] = ()


# -- the table ---------------------------------------------------------------------------------


def shipped_file() -> Path:
    return Path(str(resources.files("swegen.data").joinpath("public_scores.csv")))


def user_file() -> Path:
    """Where `swegen scores update` keeps rows it read ($SWEGEN_DATA_DIR, else XDG data home)."""
    base = os.environ.get("SWEGEN_DATA_DIR") or Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "swegen"
    return Path(base) / "public_scores.csv"


def read_csv(path: Path) -> list[PublicScore]:
    names = {f.name for f in fields(PublicScore)}
    rows = []
    with open(path, encoding="utf-8", newline="") as handle:
        for raw in csv.DictReader(handle):
            data: dict[str, Any] = {k: v or "" for k, v in raw.items() if k in names}
            data["percent"] = float(data["percent"])
            data["resolved"] = int(data["resolved"]) if data.get("resolved") else None
            data["total"] = int(data["total"]) if data.get("total") else None
            rows.append(PublicScore(**data))
    return rows


def write_csv(path: Path, rows: Iterable[PublicScore]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(PublicScore)], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    write_atomic(path, buffer.getvalue())


def load_scores(extra: Path | None = None) -> list[PublicScore]:
    """Rows from `extra` (if given), the user's updated rows, then the shipped table; newest first."""
    sources = [p for p in (extra, user_file()) if p is not None and p.exists()] + [shipped_file()]
    return _dedupe(row for path in sources for row in read_csv(path))


def _dedupe(rows: Iterable[PublicScore]) -> list[PublicScore]:
    seen: set[tuple[str, ...]] = set()
    kept = []
    for row in rows:
        key = (row.benchmark, row.board, row.folder) if row.folder else (row.benchmark, row.model, row.system, row.date)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return sorted(kept, key=lambda r: r.date, reverse=True)


# -- matching model names ----------------------------------------------------------------------

_DATE = re.compile(r"(?<!\d)(20\d\d)-?(0[1-9]|1[0-2])-?([0-3]\d)(?!\d)")


@dataclass(frozen=True)
class NameKey:
    """A model name reduced to what identifies it: its words in any order, and a snapshot date."""

    words: tuple[str, ...]
    date: str | None


def normalise(name: str) -> NameKey:
    """'anthropic/claude-sonnet-4-20250514' and 'Claude 4 Sonnet (2025-05-14)' give the same key."""
    text = name.strip().lower().rstrip("/").rsplit("/", 1)[-1]
    found = _DATE.search(text)
    date = "".join(found.groups()) if found else None
    text = _DATE.sub(" ", text)
    words = tuple(sorted(w for w in re.split(r"[^a-z0-9]+", text) if w not in NOISE))
    return NameKey(words, date)


def _keys(row: PublicScore) -> list[NameKey]:
    return [normalise(n) for n in (row.model, *row.model_tag.split("|")) if n.strip()]


def rows_for(name: str, rows: Iterable[PublicScore]) -> list[PublicScore]:
    """Every row naming this model: same words, and the same snapshot date where both give one."""
    want = normalise(name)
    if not want.words:
        return []
    found = []
    for row in rows:
        if any(k.words == want.words and (k.date is None or want.date is None or k.date == want.date) for k in _keys(row)):
            found.append(row)
    return found


def _preference(row: PublicScore) -> tuple[int, int, str]:
    attempts = 0 if row.attempts == "1" else 1
    return (BOARD_RANK.get(row.board, 5), attempts, _invert(row.date))


def _invert(date: str) -> str:
    # Newest first inside a rank: sort on the date's digits subtracted from 9.
    return "".join(str(9 - int(c)) if c.isdigit() else c for c in date)


def match(name: str, rows: list[PublicScore], benchmark: str = "verified", override: float | None = None) -> PublicMatch:
    """The public row for `name` on `benchmark`: same-scaffold rows first, and say which was used."""
    named = tuple(rows_for(name, rows))
    if override is not None:
        given = PublicScore(name, "", "given with --public", "user", benchmark, "", override, None, None, "", "command line (--public)")
        return PublicMatch(name, given, "given on the command line (--public)", named)
    on_split = sorted((r for r in named if r.benchmark == benchmark), key=_preference)
    if not on_split:
        other = sorted({r.benchmark for r in named})
        how = f"no public score on {benchmark}" + (f" (there are on: {', '.join(other)})" if other else "")
        return PublicMatch(name, None, how, named)
    best = on_split[0]
    if best.same_scaffold:
        how = "same scaffold (bash-only board)"
    else:
        how = f"no bash-only row; {best.board} row, other scaffold"
    return PublicMatch(name, best, how, named)


def parse_overrides(pairs: Iterable[str], what: str, convert: Any) -> dict[str, Any]:
    """MODEL=VALUE pairs from the command line, converted; a malformed pair is a BadInput."""
    result = {}
    for pair in pairs:
        model, sep, value = pair.rpartition("=")
        if not sep or not model or not value:
            raise BadInput(f"{what} {pair!r} is not MODEL=VALUE", hint=f"write it like {what} claude-sonnet-4=62.5")
        try:
            result[model.strip()] = convert(value.strip())
        except ValueError as exc:
            raise BadInput(f"{what} {pair!r}: {exc}", hint=f"write it like {what} MODEL=VALUE") from None
    return result


def override_for(name: str, overrides: dict[str, Any]) -> Any:
    """The override given for this model: by exact name, else by normalised name (a dateless name
    like 'gpt-5' stands for every snapshot of it, a dated one only for its own)."""
    if name in overrides:
        return overrides[name]
    want = normalise(name)
    keyed = [(normalise(given), value) for given, value in overrides.items()]
    exact = [value for key, value in keyed if key == want]
    loose = [value for key, value in keyed if key.words == want.words and (key.date is None or want.date is None)]
    return (exact or loose or [None])[0]


# -- the official leaderboard JSON -------------------------------------------------------------


def read_leaderboard(source: str, timeout: float = 30) -> list[PublicScore]:
    """Rows from the official leaderboard JSON (a file or an http(s) URL), or from the leaderboard page."""
    text = _fetch(source, timeout)
    embedded = re.search(r"<script[^>]*id=[\"']leaderboard-data[\"'][^>]*>(.*?)</script>", text, re.DOTALL)
    if embedded:  # the leaderboard page itself, which carries the same JSON in a script tag
        text = embedded.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{source} is not JSON ({exc.msg}, line {exc.lineno})", hint="pass the leaderboard's data/leaderboards.json") from None
    boards = data.get("leaderboards") if isinstance(data, dict) else data
    if not isinstance(boards, list) or not all(isinstance(b, dict) and "results" in b for b in boards):
        raise BadInput(f"{source} has no list of leaderboards with results", hint="pass the leaderboard's data/leaderboards.json")
    label = source if "://" in source else Path(source).name
    rows = []
    for board in boards:
        benchmark = LEADERBOARDS.get(str(board.get("name", "")).strip().lower())
        if benchmark is None:
            continue
        rows.extend(r for r in (_leaderboard_row(str(board["name"]), benchmark, result, label) for result in board["results"]) if r)
    return rows


def _fetch(source: str, timeout: float) -> str:
    if source.startswith(("http://", "https://")):
        import urllib.request

        try:
            with urllib.request.urlopen(source, timeout=timeout) as response:
                return response.read().decode("utf-8")
        except OSError as exc:
            raise BadInput(f"cannot read {source} ({exc})", hint="download the file and pass its path") from None
    path = Path(source)
    if not path.is_file():
        raise BadInput(f"{source} is not a file", hint="pass the path of the leaderboard JSON, or an https:// URL")
    return path.read_text(encoding="utf-8")


def _leaderboard_row(board: str, benchmark: str, result: dict[str, Any], label: str) -> PublicScore | None:
    try:
        percent = float(result["resolved"])
    except (KeyError, TypeError, ValueError):
        return None
    tags = [str(t) for t in result.get("tags") or []]
    model_tags = [t.split(":", 1)[1].strip() for t in tags if t.lower().startswith("model:")]
    attempts = next((t.rsplit("-", 1)[1].strip() for t in tags if "attempts" in t.lower() and "-" in t), "")
    bash_only = board.lower() == "bash-only"
    name = str(result.get("name") or "")
    model = str(result.get("model_display") or (name if bash_only else (model_tags[0] if model_tags else name)))
    version = result.get("mini-swe-agent_version")
    system = (f"mini-SWE-agent v{version} (bash-only)" if version else "mini-SWE-agent (bash-only)") if bash_only else name
    total = SPLIT_SIZE[benchmark]
    details = result.get("per_instance_details")
    if isinstance(details, dict) and details:
        resolved: int | None = sum(bool(d.get("resolved")) for d in details.values() if isinstance(d, dict))
        total = len(details)
    else:
        resolved = derive_count(percent, total)
    release = str(result.get("model_release_date") or "")
    if re.fullmatch(r"\d{8}", release):
        release = f"{release[:4]}-{release[4:6]}-{release[6:]}"
    return PublicScore(
        model=model, model_tag="|".join(model_tags), system=system, board="bash-only" if bash_only else board.capitalize(),
        benchmark=benchmark, attempts="2+" if attempts.startswith("2") else attempts, percent=percent, resolved=resolved,
        total=total, date=str(result.get("date") or ""), source=f"{label} (leaderboard {board})", folder=str(result.get("folder") or ""),
        release_date=release,
    )


def derive_count(percent: float, total: int) -> int | None:
    """The one integer k with k/total rounding to the published percent, or None if not exactly one."""
    decimals = len(f"{percent:g}".partition(".")[2])
    fits = [k for k in range(total + 1) if round(100 * k / total, decimals) == round(percent, decimals)]
    return fits[0] if len(fits) == 1 else None


@dataclass(frozen=True)
class UpdateResult:
    path: Path
    read: int
    added: int
    total: int


def update(source: str) -> UpdateResult:
    """Read the official leaderboard JSON and keep its rows in the user's score file."""
    new = read_leaderboard(source)
    if not new:
        raise BadInput(f"{source} holds no leaderboard rows swegen knows", hint=f"boards read: {', '.join(sorted(LEADERBOARDS))}")
    path = user_file()
    old = read_csv(path) if path.exists() else []
    before = len(_dedupe([*old, *read_csv(shipped_file())]))
    merged = _dedupe([*new, *old])
    write_csv(path, merged)
    after = len(_dedupe([*merged, *read_csv(shipped_file())]))
    return UpdateResult(path, len(new), after - before, len(merged))
