"""Statistics for the report, each a thin wrapper over statsmodels or scipy (nothing hand-rolled).

Rates are proportions of tasks resolved; a private eval has few tasks, so every rate carries an
interval and every comparison a test, and the report can say how big a difference it could see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Two-sided significance level for every interval and test in the report.
ALPHA = 0.05
#: Power used for the smallest detectable difference.
POWER = 0.8
#: Above this many percentage points, the smallest detectable difference earns a warning.
MDE_WARNING_POINTS = 10.0


@dataclass(frozen=True)
class Interval:
    """A rate (0..1) with its 95% interval."""

    rate: float
    low: float
    high: float


@dataclass(frozen=True)
class Gap:
    """Private rate minus public rate, with its 95% interval and how it was computed."""

    gap: float
    low: float
    high: float
    #: "newcombe" (both rates are counts) or "wilson, public fixed" (the public number has no count).
    method: str

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class PairTest:
    """Exact McNemar test of two models on the tasks both were graded on."""

    shared: int
    #: Tasks only the first model resolved, and only the second.
    only_first: int
    only_second: int
    p_value: float


@dataclass(frozen=True)
class RankAgreement:
    """Kendall's tau-b between two orderings of the same models."""

    tau: float
    p_value: float
    n: int


def wilson(resolved: int, total: int) -> Interval:
    """The Wilson score interval of resolved/total (statsmodels' proportion_confint)."""
    from statsmodels.stats.proportion import proportion_confint

    if total <= 0:
        return Interval(math.nan, 0.0, 1.0)
    low, high = proportion_confint(resolved, total, alpha=ALPHA, method="wilson")
    return Interval(resolved / total, float(low), float(high))


def gap(resolved: int, total: int, public_percent: float, public_resolved: int | None = None,
        public_total: int | None = None) -> Gap:
    """Private minus public rate.

    With the public count known, Newcombe's hybrid score interval for a difference of two
    independent proportions; without it (a vendor's figure, a number typed on the command line),
    the public rate is taken as exact and the interval is the private rate's Wilson interval shifted.
    """
    public = public_percent / 100
    if public_resolved is not None and public_total:
        from statsmodels.stats.proportion import confint_proportions_2indep

        low, high = confint_proportions_2indep(resolved, total, public_resolved, public_total, method="newcomb", compare="diff", alpha=ALPHA)
        return Gap(resolved / total - public_resolved / public_total, float(low), float(high), "newcombe")
    interval = wilson(resolved, total)
    return Gap(interval.rate - public, interval.low - public, interval.high - public, "wilson, public fixed")


def mcnemar_exact(first: list[bool], second: list[bool]) -> PairTest:
    """Exact (binomial) McNemar test on paired outcomes of the same tasks (statsmodels)."""
    from statsmodels.stats.contingency_tables import mcnemar

    if len(first) != len(second):
        raise ValueError("paired outcomes must have the same length")
    both = sum(a and b for a, b in zip(first, second))
    only_first = sum(a and not b for a, b in zip(first, second))
    only_second = sum(b and not a for a, b in zip(first, second))
    neither = len(first) - both - only_first - only_second
    if only_first + only_second == 0:
        return PairTest(len(first), 0, 0, 1.0)
    result = mcnemar([[both, only_first], [only_second, neither]], exact=True)
    return PairTest(len(first), only_first, only_second, float(result.pvalue))


def rank_agreement(public: list[float], private: list[float]) -> RankAgreement:
    """Kendall's tau-b (scipy) between the public and the private scores of the same models."""
    from scipy.stats import kendalltau

    if len(public) != len(private):
        raise ValueError("both orderings must cover the same models")
    if len(public) < 2 or len(set(public)) == 1 or len(set(private)) == 1:
        # One model, or all tied on one side: there is no ordering to compare (scipy would warn).
        return RankAgreement(math.nan, math.nan, len(public))
    result = kendalltau(public, private)
    return RankAgreement(float(result.statistic), float(result.pvalue), len(public))


def detectable_difference(tasks: int, base_rate: float = 0.5, one_sample: bool = False) -> float:
    """The smallest difference in rate (0..1) that `tasks` tasks detect at ALPHA with POWER.

    Two-sample (two models on independent task sets: conservative for paired models) unless
    `one_sample` (one model against a fixed public number). Solved on Cohen's h (statsmodels'
    NormalIndPower) and turned back into a rate difference at `base_rate`, taking the wider side.
    """
    from statsmodels.stats.power import NormalIndPower

    if tasks < 2:
        return 1.0
    h = float(NormalIndPower().solve_power(nobs1=tasks, alpha=ALPHA, power=POWER, ratio=0 if one_sample else 1))
    base = min(max(base_rate, 0.0), 1.0)
    angle = math.asin(math.sqrt(base))
    up = math.sin(min(angle + h / 2, math.pi / 2)) ** 2 - base
    down = base - math.sin(max(angle - h / 2, 0.0)) ** 2
    return max(up, down)


def fisher_exact(a_resolved: int, a_total: int, b_resolved: int, b_total: int) -> float:
    """Two-sided Fisher exact p-value for two rates on disjoint task sets (scipy)."""
    from scipy.stats import fisher_exact as scipy_fisher

    if a_total == 0 or b_total == 0:
        return math.nan
    table = [[a_resolved, a_total - a_resolved], [b_resolved, b_total - b_resolved]]
    return float(scipy_fisher(table).pvalue)
