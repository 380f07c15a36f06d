"""Valuation arithmetic: the grid, nearest ranks, and why rounding first changes nothing."""

import random

import pytest

from exchange.valuation.rules import GRID, MIN_COUNT, nearest_rank, on_grid, percentiles

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, 0),
        (1, 1),
        (850_000_000, 800_000_000),
        (894_000_000, 800_000_000),
        (895_000_000, 1_000_000_000),  # the boundary is the geometric mean, sqrt(8 · 10) = 8.944
        (1_000_000_000, 1_000_000_000),
        (1_118_000_000, 1_000_000_000),
        (1_118_034_000, 1_250_000_000),
        (1_234_567_890, 1_250_000_000),
        (2_828_000_000, 2_500_000_000),
        (2_829_000_000, 3_200_000_000),
        (9_999_999_999, 10_000_000_000),
        (10**15, 10**15),
    ],
)
def test_on_grid(amount, expected):
    assert on_grid(amount) == expected


def test_every_grid_point_is_its_own_cell_and_cells_are_ordered():
    points = [g * 10**d // 100 for d in range(2, 14) for g in GRID[:-1]]
    assert [on_grid(x) for x in points] == points
    rng = random.Random(7)
    amounts = sorted(rng.randrange(10**15) for _ in range(5000))
    rounded = [on_grid(a) for a in amounts]
    assert rounded == sorted(rounded)  # monotone
    # Never further than half a step (on a log scale) from the value: under 13 %.
    assert all(0.88 < r / a < 1.14 for a, r in zip(amounts, rounded, strict=True) if a)


@pytest.mark.parametrize(
    ("values", "percentile", "expected"),
    [
        ([10, 20, 30, 40, 50], 25, 20),
        ([10, 20, 30, 40, 50], 50, 30),
        ([10, 20, 30, 40, 50], 75, 40),
        ([10, 20, 30, 40, 50, 60], 25, 20),
        ([10, 20, 30, 40, 50, 60], 50, 30),
        ([10, 20, 30, 40, 50, 60], 75, 50),
        ([10, 20, 30, 40, 50, 60, 70, 80], 75, 60),
        ([10], 25, 10),
    ],
)
def test_nearest_rank(values, percentile, expected):
    assert nearest_rank(values, percentile) == expected


def test_no_percentiles_below_the_minimum():
    assert MIN_COUNT == 5
    assert percentiles([10**9] * 4) is None
    assert percentiles([10**9] * 5) == (10**9, 10**9, 10**9)


def test_rounding_first_or_last_gives_the_same_percentiles_and_never_the_extremes():
    rng = random.Random(11)
    for _ in range(2000):
        amounts = [rng.randrange(1, 10**13) for _ in range(rng.randrange(MIN_COUNT, 40))]
        ordered = sorted(amounts)
        found = percentiles(amounts)
        assert found == tuple(on_grid(nearest_rank(ordered, p)) for p in (25, 50, 75))
        # At least one deal lies on either side of every number shown: the cheapest and dearest are never shown alone.
        assert ordered.index(nearest_rank(ordered, 25)) >= 1
        assert ordered.index(nearest_rank(ordered, 75)) <= len(ordered) - 2


def test_values_in_the_same_cell_give_the_same_answer():
    base = [200_000_000, 500_000_000, 2_500_000_000, 3_200_000_000, 8_000_000_000]
    answers = {percentiles([*base, sixth]) for sixth in range(1_118_034_000, 1_414_213_000, 997_331)}
    assert answers == {(500_000_000, 1_250_000_000, 3_200_000_000)}
