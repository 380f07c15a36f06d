"""Stripe's minimum charge: a schedule that could invoice a share below it is refused."""

import random

import pytest

from payments import fees
from payments.fees import STRIPE_MAX_CHARGE_VND, STRIPE_MIN_CHARGE_VND, Schedule, Tier, compute

pytestmark = pytest.mark.unit

TIERS = (Tier(up_to=1_000_000_000, bps=300), Tier(up_to=None, bps=100))


def schedule(minimum_fee: int, buyer_bps: int = 5000, tiers: tuple[Tier, ...] = TIERS) -> Schedule:
    return Schedule(
        tiers=tiers, minimum_fee=minimum_fee, maximum_fee=None, buyer_bps=buyer_bps, seller_bps=10_000 - buyer_bps
    )


def minimum_fee_problems(s: Schedule) -> list[str]:
    return [message for field, message in fees.check(s) if field == "minimum_fee.amount"]


@pytest.mark.parametrize(
    ("minimum_fee", "buyer_bps", "parties"),
    [
        (1_000, 5000, ["buyer", "seller"]),  # 500 VND each
        (0, 5000, ["buyer", "seller"]),  # a small deal pays a few dong
        (39_999, 5000, ["seller"]),  # 20,000 for the buyer by the rounding rule, 19,999 for the seller
        (2_000_000, 9_999, ["seller"]),  # the default minimum, but a 1 bps share of it is 200 VND
    ],
)
def test_a_minimum_fee_leaving_a_party_less_than_stripe_charges_is_refused(minimum_fee, buyer_bps, parties):
    problems = minimum_fee_problems(schedule(minimum_fee, buyer_bps))
    assert [party for party in ("buyer", "seller") if any(f"the {party}'s" in m for m in problems)] == parties
    assert all(f"{STRIPE_MIN_CHARGE_VND:,} VND" in m for m in problems)


@pytest.mark.parametrize(
    "valid",
    [
        schedule(40_000),
        schedule(2_000_000),
        schedule(20_000, buyer_bps=10_000),  # the seller pays nothing and gets no invoice
        schedule(0, tiers=(Tier(up_to=None, bps=0),)),  # charges nobody anything
    ],
)
def test_minimum_fees_every_party_can_pay_are_accepted(valid):
    assert fees.check(valid) == []


def test_every_invoice_of_an_accepted_schedule_is_within_stripes_limits():
    rng = random.Random(20_000)
    accepted = 0
    for _ in range(3_000):
        tiers = (Tier(up_to=rng.randint(1, 10**10), bps=rng.randint(0, 500)), Tier(up_to=None, bps=rng.randint(0, 500)))
        s = schedule(
            rng.choice([0, 1, 10_000, 39_999, 40_000, 41_000, 2_000_000, 10**8]), rng.randint(0, 10_000), tiers
        )
        if fees.check(s):
            continue
        accepted += 1
        for value in (0, 1, rng.randint(0, 10**7), rng.randint(0, 10**13)):
            b = compute(value, s)
            for part in b.buyer_instalments + b.seller_instalments:
                assert STRIPE_MIN_CHARGE_VND <= part <= STRIPE_MAX_CHARGE_VND, (s, value, b)
    assert accepted > 100
