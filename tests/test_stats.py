"""The report's statistics agree with values worked out by hand or published in textbooks."""

from __future__ import annotations

import math

import pytest

from swegen import stats


def test_wilson_interval_for_7_of_20():
    interval = stats.wilson(7, 20)
    assert interval.rate == pytest.approx(0.35)
    # Wilson's closed form with z = 1.959964: centre (p + z^2/2n) / (1 + z^2/n), half-width
    # z sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n); Newcombe (1998) gives 0.1812 to 0.5671.
    assert interval.low == pytest.approx(0.18119, abs=1e-4)
    assert interval.high == pytest.approx(0.56715, abs=1e-4)
    z, n, p = 1.959964, 20, 0.35
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert (interval.low, interval.high) == pytest.approx((centre - half, centre + half), abs=1e-6)


def test_wilson_at_the_edges_stays_inside_zero_and_one():
    assert stats.wilson(0, 10).low == pytest.approx(0.0, abs=1e-12)
    assert stats.wilson(0, 10).high == pytest.approx(0.2775, abs=1e-3)
    assert stats.wilson(10, 10).high == pytest.approx(1.0)
    assert math.isnan(stats.wilson(0, 0).rate)


def test_exact_mcnemar_on_a_constructed_table():
    # 25 tasks: 10 both resolved, 2 only the first, 8 only the second, 5 neither. The exact test
    # is a binomial test of 2 successes in 10 at p = 1/2: 2 * (1 + 10 + 45) / 1024 = 0.109375.
    first = [True] * 10 + [True] * 2 + [False] * 8 + [False] * 5
    second = [True] * 10 + [False] * 2 + [True] * 8 + [False] * 5
    test = stats.mcnemar_exact(first, second)
    assert (test.shared, test.only_first, test.only_second) == (25, 2, 8)
    assert test.p_value == pytest.approx(0.109375)


def test_mcnemar_with_no_discordant_pair_is_no_evidence():
    test = stats.mcnemar_exact([True, False], [True, False])
    assert test.p_value == 1.0 and test.only_first == test.only_second == 0


def test_mcnemar_extreme_table():
    # 0 versus 9 discordant: 2 / 2^9.
    test = stats.mcnemar_exact([False] * 9, [True] * 9)
    assert test.p_value == pytest.approx(2 / 512)


def test_kendall_on_a_constructed_ordering():
    # One swapped pair among four models: (6 - 2 * 1) / 6 concordance, exact p = 2 * 4/24.
    agreement = stats.rank_agreement([40.0, 50.0, 60.0, 70.0], [0.1, 0.3, 0.2, 0.4])
    assert agreement.tau == pytest.approx(2 / 3)
    assert agreement.p_value == pytest.approx(1 / 3)
    assert stats.rank_agreement([1, 2, 3], [3, 2, 1]).tau == pytest.approx(-1.0)
    assert math.isnan(stats.rank_agreement([1.0], [2.0]).tau)
    assert math.isnan(stats.rank_agreement([1.0, 2.0], [0.5, 0.5]).tau)


def test_gap_with_counts_uses_newcombe_and_without_counts_a_fixed_public_rate():
    counted = stats.gap(7, 20, 56.4, 282, 500)
    assert counted.method == "newcombe"
    assert counted.gap == pytest.approx(0.35 - 0.564)
    assert counted.low < counted.gap < counted.high
    # Newcombe's interval is wider than the private Wilson interval alone would make it.
    fixed = stats.gap(7, 20, 56.4)
    assert fixed.method == "wilson, public fixed"
    assert (fixed.low, fixed.high) == pytest.approx((0.18119 - 0.564, 0.56715 - 0.564), abs=1e-4)
    assert counted.high - counted.low > fixed.high - fixed.low
    assert not counted.significant
    assert stats.gap(1, 40, 70.0).significant


def test_detectable_difference_shrinks_with_more_tasks():
    small, large = stats.detectable_difference(20), stats.detectable_difference(500)
    assert small > large
    # Two arms of 500 at 50%: 2.8 * sqrt(2 * 0.25 / 500) = 0.0885 by the normal approximation.
    assert large == pytest.approx(0.0885, abs=0.003)
    assert stats.detectable_difference(20, one_sample=True) < small
    assert small * 100 > stats.MDE_WARNING_POINTS


def test_fisher_exact_known_value():
    # Fisher's tea-tasting table [[3, 1], [1, 3]]: two-sided p = 0.4857.
    assert stats.fisher_exact(3, 4, 1, 4) == pytest.approx(0.4857, abs=1e-4)
    assert math.isnan(stats.fisher_exact(0, 0, 1, 2))
