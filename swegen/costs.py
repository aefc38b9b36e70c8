"""Cost and time per model: wall time, tokens and money, from the predictions the solve stage wrote.

`swegen solve` records per task the wall time (`seconds`) and, where the agent reported them,
tokens (`prompt_tokens`/`completion_tokens`, or `input_tokens`/`output_tokens`, or a `tokens`
object with either pair). Money comes only from a price table the user gives (`--price
MODEL=INPUT/OUTPUT` in dollars per million tokens, or a TOML file): swegen ships no prices, since
they change and differ by contract.

Only graded tasks count, the ones the model's resolution rate counts: a task whose prediction
carries `infra_error`, or whose evaluation was an infrastructure error or is missing, leaves every
figure here too, so cost per resolved task has the rate's own denominator.
"""

from __future__ import annotations

import math
import statistics
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swegen.errors import BadInput
from swegen.records import read_lines
from swegen.scores import override_for

#: Statuses of evaluation that count in a model's rate (reporting.GRADED; repeated to keep the import one way).
GRADED = ("resolved", "unresolved", "empty_patch", "tampered")
#: Field pairs an agent may report its token counts under, in order of preference.
TOKEN_FIELDS = (("prompt_tokens", "completion_tokens"), ("input_tokens", "output_tokens"))


@dataclass(frozen=True)
class Price:
    """Dollars per million tokens."""

    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


@dataclass(frozen=True)
class Usage:
    """What one prediction cost: wall time and tokens (None when the agent did not say)."""

    seconds: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    infra_error: bool = False
    #: The agent's turns (model calls), where an agent preset recorded them.
    turns: int | None = None


@dataclass(frozen=True)
class ModelCost:
    """One model's time, tokens and money over its graded tasks."""

    model: str
    #: Graded tasks (the rate's denominator) and those resolved among them.
    graded: int
    resolved: int
    #: Graded tasks with a recorded wall time, their median and total seconds.
    timed: int
    median_seconds: float | None
    total_seconds: float | None
    #: Graded tasks with recorded tokens, and the totals over them.
    with_tokens: int
    prompt_tokens: int
    completion_tokens: int
    price: Price | None
    #: Dollars over the graded tasks; None without a price or without tokens on every graded task.
    total_cost: float | None
    cost_per_task: float | None
    cost_per_resolved: float | None
    #: Why money is not shown, in plain words ("" when it is).
    note: str = ""
    #: Median turns over the graded tasks whose agent recorded them (None: none did).
    median_turns: float | None = None

    @property
    def rate(self) -> float:
        return self.resolved / self.graded if self.graded else math.nan

    def terminal_cells(self) -> list[str]:
        return [self.model, f"{self.resolved}/{self.graded}", seconds(self.median_seconds), seconds(self.total_seconds), turns(self.median_turns),
                tokens(self.prompt_tokens, self.with_tokens), tokens(self.completion_tokens, self.with_tokens),
                price(self.price), dollars(self.total_cost), dollars(self.cost_per_resolved)]


# -- the price table ---------------------------------------------------------------------------


def parse_price(text: str) -> Price:
    """'3/15' or '3.0/15' (input/output dollars per million tokens); ValueError when malformed."""
    first, sep, second = text.partition("/")
    if not sep:
        raise ValueError("a price is INPUT/OUTPUT dollars per million tokens, e.g. 3/15")
    return _price(float(first.strip().lstrip("$")), float(second.strip().lstrip("$")))


def _price(input_price: float, output_price: float) -> Price:
    if not (math.isfinite(input_price) and math.isfinite(output_price)) or input_price < 0 or output_price < 0:
        raise ValueError("prices are finite numbers of zero or more")
    return Price(input_price, output_price)


def load_prices(pairs: Iterable[str] = (), file: Path | None = None) -> dict[str, Price]:
    """The price table: a TOML file's entries, then `--price MODEL=INPUT/OUTPUT` pairs over them."""
    prices = _prices_file(file) if file else {}
    for pair in pairs:
        model, sep, value = pair.rpartition("=")
        if not sep or not model.strip() or not value.strip():
            raise BadInput(f"--price {pair!r} is not MODEL=INPUT/OUTPUT", hint="write it like --price gpt-5=1.25/10 (dollars per million tokens)")
        try:
            prices[model.strip()] = parse_price(value)
        except ValueError as exc:
            raise BadInput(f"--price {pair!r}: {exc}", hint="write it like --price gpt-5=1.25/10 (dollars per million tokens)") from None
    return prices


def _prices_file(path: Path) -> dict[str, Price]:
    """A TOML table of models: `"gpt-5" = {input = 1.25, output = 10}` or `"gpt-5" = "1.25/10"`,
    at the top level or under `[prices]`."""
    hint = 'write one line per model, like "gpt-5" = { input = 1.25, output = 10 } (dollars per million tokens)'
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot read price file {path} ({exc.strerror})", hint="pass a readable TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"price file {path} is not TOML ({exc})", hint=hint) from None
    table = data.get("prices", data) if isinstance(data.get("prices"), dict) else data
    prices = {}
    for model, value in table.items():
        try:
            if isinstance(value, str):
                prices[model] = parse_price(value)
            elif isinstance(value, dict) and set(value) == {"input", "output"}:
                prices[model] = _price(_number(value["input"]), _number(value["output"]))
            else:
                raise ValueError("give {input = N, output = N} or \"INPUT/OUTPUT\"")
        except ValueError as exc:
            raise BadInput(f"price file {path}: {model}: {exc}", hint=hint) from None
    return prices


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


# -- reading the predictions -------------------------------------------------------------------


def load_usage(run_dir: Path) -> dict[str, dict[str, Usage]]:
    """Per model name, per instance id, what its prediction cost; the last line per task wins."""
    usage: dict[str, dict[str, Usage]] = {}
    folder = run_dir / "predictions"
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        for line in read_lines(path):
            if not line.get("instance_id"):
                continue
            name = str(line.get("model_name_or_path") or path.stem.replace("__", "/"))
            usage.setdefault(name, {})[str(line["instance_id"])] = usage_of(line)
    return usage


def usage_of(line: dict[str, Any]) -> Usage:
    """The wall time and tokens one predictions line records."""
    prompt, completion = _tokens(line)
    if prompt is None and isinstance(line.get("tokens"), dict):
        prompt, completion = _tokens(line["tokens"])
    return Usage(_non_negative(line.get("seconds")), prompt, completion, bool(line.get("infra_error")), _count(line.get("turns")))


def _tokens(record: dict[str, Any]) -> tuple[int | None, int | None]:
    for first, second in TOKEN_FIELDS:
        a, b = _count(record.get(first)), _count(record.get(second))
        if a is not None or b is not None:
            return a or 0, b or 0
    return None, None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _non_negative(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


# -- the figures -------------------------------------------------------------------------------


def model_cost(model: str, statuses: dict[str, str], usage: dict[str, Usage], prices: dict[str, Price]) -> ModelCost:
    """One model's figures over its graded tasks (statuses: instance id -> evaluation status)."""
    graded = [i for i, s in statuses.items() if s in GRADED and not (i in usage and usage[i].infra_error)]
    resolved = sum(1 for i in graded if statuses[i] == "resolved")
    spent = [usage[i] for i in graded if i in usage]
    times = [u.seconds for u in spent if u.seconds is not None]
    turned = [u.turns for u in spent if u.turns is not None]
    counted = [u for u in spent if u.prompt_tokens is not None]
    prompt = sum(u.prompt_tokens or 0 for u in counted)
    completion = sum(u.completion_tokens or 0 for u in counted)
    price = override_for(model, prices)
    total, note = None, ""
    if price is None:
        note = f"no price for {model}; give one with --price {model}=INPUT/OUTPUT"
    elif not graded:
        note = "no graded task"
    elif len(counted) < len(graded):
        note = f"tokens recorded on {len(counted)} of {len(graded)} graded tasks, so no total"
    else:
        total = price.cost(prompt, completion)
    return ModelCost(
        model, len(graded), resolved, len(times), statistics.median(times) if times else None, sum(times) if times else None,
        len(counted), prompt, completion, price, total,
        total / len(graded) if total is not None else None,
        total / resolved if total is not None and resolved else None, note,
        statistics.median(turned) if turned else None,
    )


def model_costs(outcomes: dict[str, dict[str, str]], usage: dict[str, dict[str, Usage]], prices: dict[str, Price],
                models: Iterable[str]) -> tuple[ModelCost, ...]:
    """The figures of each named model (in that order); a model with no predictions has no usage."""
    return tuple(model_cost(name, outcomes.get(name, {}), usage.get(name, {}), prices) for name in models)


# -- formatting --------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min" if value < 7200 else f"{value / 3600:.1f} h"


def turns(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def tokens(value: int, known: int) -> str:
    if not known:
        return "-"
    return f"{value / 1_000_000:.2f}M" if value >= 1_000_000 else f"{value / 1000:.1f}k" if value >= 10_000 else str(value)


def dollars(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def price(value: Price | None) -> str:
    return "-" if value is None else f"${value.input:g} / ${value.output:g}"
