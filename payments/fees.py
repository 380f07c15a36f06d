"""Fee arithmetic: integer VND, basis points, one rounding rule (round_div), no I/O."""

from collections.abc import Sequence

import msgspec

BPS = 10_000
"""Basis points in a whole: 250 bps is 2.5 %."""

# Stripe's charge limits for VND, a zero-decimal currency (the amount is whole dong).
# Maximum: the PaymentIntent `amount` "supports up to eight digits (e.g., a value of 99999999 for a
# USD charge of $999,999.99)" (Stripe API reference, PaymentIntent.amount; docs.stripe.com/currencies,
# "Minimum and maximum charge amounts": only IDR is listed with more digits, VND keeps eight).
STRIPE_MAX_CHARGE_VND = 99_999_999
# Minimum: "$0.50 US or equivalent in charge currency" (same reference). About 13,000 VND at
# 26,000 VND/USD; 20,000 leaves room for the exchange rate to move. check() refuses a schedule whose
# minimum fee would leave a paying party a share below it.
STRIPE_MIN_CHARGE_VND = 20_000


class Tier(msgspec.Struct, frozen=True, kw_only=True):
    """A marginal tier: `bps` applies to the part of the value up to `up_to` (None: no upper bound)."""

    up_to: int | None
    bps: int


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """The arithmetic part of a fee schedule."""

    tiers: tuple[Tier, ...]
    minimum_fee: int
    maximum_fee: int | None
    buyer_bps: int
    seller_bps: int


class TierLine(msgspec.Struct, frozen=True, kw_only=True):
    """How much of the value fell in one tier."""

    start: int
    up_to: int | None
    bps: int
    base: int


class Breakdown(msgspec.Struct, frozen=True, kw_only=True):
    """The fee of one deal value under one schedule, and who pays what in how many instalments."""

    value: int
    lines: tuple[TierLine, ...]
    tiered_fee: int
    clamp: str | None
    fee: int
    buyer: int
    seller: int
    buyer_instalments: tuple[int, ...]
    seller_instalments: tuple[int, ...]


def round_div(numerator: int, denominator: int) -> int:
    """The one rounding rule: the nearest integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    return sign * ((2 * abs(numerator) + denominator) // (2 * denominator))


def tier_lines(value: int, tiers: Sequence[Tier]) -> list[TierLine]:
    """Split a value over marginal tiers (ascending `up_to`, the last unbounded)."""
    lines, start = [], 0
    for tier in tiers:
        top = value if tier.up_to is None else min(value, tier.up_to)
        lines.append(TierLine(start=start, up_to=tier.up_to, bps=tier.bps, base=max(0, top - start)))
        if tier.up_to is None:
            break
        start = tier.up_to
    return lines


def instalments(amount: int, limit: int = STRIPE_MAX_CHARGE_VND) -> list[int]:
    """Split an amount into the fewest near-equal parts no larger than limit (larger parts first)."""
    if amount <= 0:
        return []
    count = -(-amount // limit)
    base, extra = divmod(amount, count)
    return [base + 1] * extra + [base] * (count - extra)


def shares(fee: int, buyer_bps: int) -> tuple[int, int]:
    """The buyer's and the seller's part of a fee: the buyer's by the rounding rule, the seller's the rest."""
    buyer = round_div(fee * buyer_bps, BPS)
    return buyer, fee - buyer  # so the two shares always add up to the fee exactly


def compute(value: int, schedule: Schedule) -> Breakdown:
    """The fee of a deal of `value` VND: marginal tiers, rounded once, clamped, then split exactly."""
    if value < 0:
        raise ValueError("a deal value is never negative")
    lines = tier_lines(value, schedule.tiers)
    tiered = round_div(sum(line.base * line.bps for line in lines), BPS)
    fee, clamp = tiered, None
    if fee < schedule.minimum_fee:
        fee, clamp = schedule.minimum_fee, "minimum"
    if schedule.maximum_fee is not None and fee > schedule.maximum_fee:
        fee, clamp = schedule.maximum_fee, "maximum"
    buyer, seller = shares(fee, schedule.buyer_bps)
    return Breakdown(
        value=value,
        lines=tuple(lines),
        tiered_fee=tiered,
        clamp=clamp,
        fee=fee,
        buyer=buyer,
        seller=seller,
        buyer_instalments=tuple(instalments(buyer)),
        seller_instalments=tuple(instalments(seller)),
    )


def check(schedule: Schedule) -> list[tuple[str, str]]:
    """Every problem with a schedule as (field, message); empty when it is valid."""
    problems: list[tuple[str, str]] = []
    if not schedule.tiers:
        problems.append(("tiers", "at least one tier is needed"))
    previous = 0
    for i, tier in enumerate(schedule.tiers):
        last = i == len(schedule.tiers) - 1
        if not 0 <= tier.bps <= BPS:
            problems.append((f"tiers[{i}].bps", f"must be between 0 and {BPS}"))
        if tier.up_to is None and not last:
            problems.append((f"tiers[{i}].up_to", "only the last tier may be unbounded (null)"))
        elif tier.up_to is not None and last:
            problems.append((f"tiers[{i}].up_to", "the last tier must be unbounded (null)"))
        elif tier.up_to is not None:
            if tier.up_to <= previous:
                problems.append((f"tiers[{i}].up_to", "tiers must be in strictly ascending order of up_to"))
            previous = tier.up_to
    if schedule.minimum_fee < 0:
        problems.append(("minimum_fee.amount", "must not be negative"))
    if schedule.maximum_fee is not None and schedule.maximum_fee < schedule.minimum_fee:
        problems.append(("maximum_fee.amount", "must not be smaller than minimum_fee"))
    for name, bps in (("buyer_bps", schedule.buyer_bps), ("seller_bps", schedule.seller_bps)):
        if not 0 <= bps <= BPS:
            problems.append((f"split.{name}", f"must be between 0 and {BPS}"))
    if schedule.buyer_bps + schedule.seller_bps != BPS:
        problems.append(("split", f"buyer_bps and seller_bps must add up to {BPS}"))
    elif 0 <= schedule.buyer_bps <= BPS and schedule.minimum_fee >= 0:
        problems.extend(_below_minimum_charge(schedule))
    return problems


def _below_minimum_charge(schedule: Schedule) -> list[tuple[str, str]]:
    """The shares of the minimum fee that Stripe could not charge."""
    if schedule.minimum_fee == 0 and not any(tier.bps for tier in schedule.tiers):
        return []  # a schedule that never charges anything invoices nothing
    # Every fee is at least the minimum fee and neither share shrinks as the fee grows: a share that reaches
    # Stripe's minimum charge at the minimum fee reaches it on every deal (an invoice below it cannot be paid).
    problems = []
    minimum_shares = shares(schedule.minimum_fee, schedule.buyer_bps)
    for party, bps, share in zip(
        ("buyer", "seller"), (schedule.buyer_bps, schedule.seller_bps), minimum_shares, strict=True
    ):
        if bps and share < STRIPE_MIN_CHARGE_VND:
            problems.append(
                (
                    "minimum_fee.amount",
                    f"the {party}'s share of it is {share:,} VND, below Stripe's minimum charge of {STRIPE_MIN_CHARGE_VND:,} VND",
                )
            )
    return problems
