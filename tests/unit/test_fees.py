"""Fee arithmetic: tiers, the one rounding rule, clamps, exact splits and instalments."""

import random

import pytest

from payments import fees
from payments.fees import STRIPE_MAX_CHARGE_VND, Schedule, Tier, compute, instalments, round_div

pytestmark = pytest.mark.unit

DEFAULT = Schedule(
    tiers=(Tier(up_to=1_000_000_000, bps=300), Tier(up_to=10_000_000_000, bps=200), Tier(up_to=None, bps=100)),
    minimum_fee=2_000_000,
    maximum_fee=500_000_000,
    buyer_bps=5000,
    seller_bps=5000,
)
FLAT = Schedule(tiers=(Tier(up_to=None, bps=250),), minimum_fee=0, maximum_fee=None, buyer_bps=5000, seller_bps=5000)


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (0, 10_000, 0),
        (4_999, 10_000, 0),
        (5_000, 10_000, 1),
        (5_001, 10_000, 1),
        (15_000, 10_000, 2),
        (25_000, 10_000, 3),
        (-5_000, 10_000, -1),
        (-4_999, 10_000, 0),
        (7, 2, 4),
        (9, 3, 3),
    ],
)
def test_round_div_is_nearest_with_halves_away_from_zero(numerator, denominator, expected):
    assert round_div(numerator, denominator) == expected


def test_round_div_refuses_a_zero_denominator():
    with pytest.raises(ValueError):
        round_div(1, 0)


def test_marginal_tiers_at_and_around_each_boundary():
    # 3 % of the first billion is 30,000,000; above it 2 % applies to the part beyond only.
    assert compute(1_000_000_000, DEFAULT).tiered_fee == 30_000_000
    assert compute(1_000_000_001, DEFAULT).tiered_fee == 30_000_000  # 0.02 VND more rounds away
    assert compute(1_000_000_050, DEFAULT).tiered_fee == 30_000_001  # exactly half a dong rounds up
    assert compute(1_000_000_049, DEFAULT).tiered_fee == 30_000_001  # 0.98 -> 1
    assert compute(10_000_000_000, DEFAULT).tiered_fee == 30_000_000 + 180_000_000
    assert compute(10_000_000_100, DEFAULT).tiered_fee == 210_000_001


def test_tier_lines_cover_the_value_exactly():
    for value in (0, 1, 999_999_999, 1_000_000_000, 1_000_000_001, 25_000_000_000):
        lines = compute(value, DEFAULT).lines
        assert sum(line.base for line in lines) == value
        assert [line.start for line in lines] == [0, 1_000_000_000, 10_000_000_000][: len(lines)]


def test_minimum_and_maximum_clamps():
    small = compute(10_000_000, DEFAULT)  # 3 % = 300,000 < 2,000,000
    assert (small.tiered_fee, small.fee, small.clamp) == (300_000, 2_000_000, "minimum")
    zero = compute(0, DEFAULT)
    assert (zero.fee, zero.clamp) == (2_000_000, "minimum")
    huge = compute(100_000_000_000, DEFAULT)  # 30M + 180M + 900M
    assert (huge.tiered_fee, huge.fee, huge.clamp) == (1_110_000_000, 500_000_000, "maximum")
    middle = compute(850_000_000, DEFAULT)
    assert (middle.fee, middle.clamp) == (25_500_000, None)


def test_minimum_equal_to_maximum_is_a_fixed_fee():
    fixed = Schedule(
        tiers=(Tier(up_to=None, bps=100),), minimum_fee=5_000_000, maximum_fee=5_000_000, buyer_bps=10_000, seller_bps=0
    )
    for value in (0, 1_000_000, 10**12):
        b = compute(value, fixed)
        assert (b.fee, b.buyer, b.seller, b.seller_instalments) == (5_000_000, 5_000_000, 0, ())


def test_odd_splits_add_up_to_the_fee_exactly():
    rng = random.Random(20260101)
    for _ in range(2_000):
        buyer_bps = rng.randint(0, 10_000)
        schedule = Schedule(
            tiers=(Tier(up_to=None, bps=rng.randint(0, 10_000)),),
            minimum_fee=0,
            maximum_fee=None,
            buyer_bps=buyer_bps,
            seller_bps=10_000 - buyer_bps,
        )
        b = compute(rng.randint(0, 10**13), schedule)
        assert b.buyer + b.seller == b.fee
        assert b.buyer == round_div(b.fee * buyer_bps, 10_000)
        assert sum(b.buyer_instalments) == b.buyer and sum(b.seller_instalments) == b.seller


def test_a_one_dong_fee_split_in_two_goes_to_the_buyer_by_the_rounding_rule():
    b = compute(40, FLAT)  # 2.5 % of 40 = 1
    assert (b.fee, b.buyer, b.seller) == (1, 1, 0)
    b = compute(120, FLAT)  # 3 -> 1.5 rounds to 2 for the buyer, the seller gets the rest
    assert (b.fee, b.buyer, b.seller) == (3, 2, 1)


def test_instalments_respect_stripes_vnd_maximum():
    assert instalments(0) == []
    assert instalments(STRIPE_MAX_CHARGE_VND) == [STRIPE_MAX_CHARGE_VND]
    assert instalments(STRIPE_MAX_CHARGE_VND + 1) == [50_000_000, 50_000_000]
    assert instalments(250_000_000) == [83_333_334, 83_333_333, 83_333_333]
    rng = random.Random(7)
    for _ in range(1_000):
        amount = rng.randint(1, 10**12)
        parts = instalments(amount)
        assert sum(parts) == amount
        assert max(parts) <= STRIPE_MAX_CHARGE_VND
        assert max(parts) - min(parts) <= 1
        assert len(parts) == -(-amount // STRIPE_MAX_CHARGE_VND)


def test_the_default_maximum_fee_is_invoiced_in_three_instalments_per_party():
    b = compute(100_000_000_000, DEFAULT)
    assert b.buyer == b.seller == 250_000_000
    assert b.buyer_instalments == (83_333_334, 83_333_333, 83_333_333)


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        (Schedule(tiers=(), minimum_fee=0, maximum_fee=None, buyer_bps=5000, seller_bps=5000), "tiers"),
        (
            Schedule(
                tiers=(Tier(up_to=None, bps=10_001),), minimum_fee=0, maximum_fee=None, buyer_bps=5000, seller_bps=5000
            ),
            "tiers[0].bps",
        ),
        (
            Schedule(
                tiers=(Tier(up_to=5, bps=1), Tier(up_to=5, bps=1), Tier(up_to=None, bps=1)),
                minimum_fee=0,
                maximum_fee=None,
                buyer_bps=5000,
                seller_bps=5000,
            ),
            "tiers[1].up_to",
        ),
        (
            Schedule(
                tiers=(Tier(up_to=None, bps=1), Tier(up_to=None, bps=1)),
                minimum_fee=0,
                maximum_fee=None,
                buyer_bps=5000,
                seller_bps=5000,
            ),
            "tiers[0].up_to",
        ),
        (
            Schedule(tiers=(Tier(up_to=100, bps=1),), minimum_fee=0, maximum_fee=None, buyer_bps=5000, seller_bps=5000),
            "tiers[0].up_to",
        ),
        (
            Schedule(tiers=(Tier(up_to=None, bps=1),), minimum_fee=10, maximum_fee=9, buyer_bps=5000, seller_bps=5000),
            "maximum_fee.amount",
        ),
        (
            Schedule(
                tiers=(Tier(up_to=None, bps=1),), minimum_fee=0, maximum_fee=None, buyer_bps=5000, seller_bps=4999
            ),
            "split",
        ),
    ],
)
def test_invalid_schedules_name_the_field(schedule, field):
    assert field in [f for f, _ in fees.check(schedule)]


def test_the_default_schedule_is_valid():
    assert fees.check(DEFAULT) == []
