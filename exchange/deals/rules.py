"""The deal stage machine as pure functions: which action moves which stage where, and when terms are agreed."""

from typing import Literal

import msgspec

from exchange.kernel.errors import Conflict, InvalidTransition

Stage = Literal["open", "negotiating", "agreed", "fee_pending", "closed", "cancelled"]
STAGES: tuple[str, ...] = ("open", "negotiating", "agreed", "fee_pending", "closed", "cancelled")

# action -> (stages it may start from, stage it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "propose": (frozenset({"open", "negotiating"}), "negotiating"),
    "confirm": (frozenset({"negotiating"}), "negotiating"),
    "agree": (frozenset({"negotiating"}), "agreed"),
    "invoice": (frozenset({"agreed"}), "fee_pending"),
    "close": (frozenset({"fee_pending"}), "closed"),
    "cancel": (frozenset({"open", "negotiating", "agreed", "fee_pending"}), "cancelled"),
}


def next_stage(current: str, action: str) -> str:
    """The stage an action leads to, or InvalidTransition naming the current stage."""
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        starts = ", ".join(s for s in STAGES if s in allowed)
        raise InvalidTransition(f"cannot {action} a deal that is {current}; {action} applies to: {starts}")
    return target


class Confirmations(msgspec.Struct, frozen=True, kw_only=True):
    """Which terms_version each side has confirmed (None: not the current terms)."""

    buyer: int | None
    seller: int | None


def confirm(
    stage: str, terms_version: int, given_version: int, side: str, current: Confirmations
) -> tuple[Confirmations, bool]:
    """Record one side's confirmation of given_version; True when both sides now confirm the current terms.

    A confirmation of any version but the current one is refused, so terms proposed after a side
    confirmed can never be agreed in that side's name.
    """
    next_stage(stage, "confirm")
    if given_version != terms_version:
        raise Conflict(f"terms_version {given_version} is not the current terms of this deal (version {terms_version})")
    updated = msgspec.structs.replace(current, **{side: given_version})
    return updated, updated.buyer == terms_version and updated.seller == terms_version


def stages_on_invoiced(current: str) -> list[str]:
    """Stages to pass through when the fee invoices are issued: none for a duplicate, a cancelled or a not yet agreed deal."""
    return ["fee_pending"] if current == "agreed" else []


def stages_on_fees_paid(current: str) -> list[str]:
    """Stages to pass through when every fee is paid; a deal still agreed passes through fee_pending first."""
    if current == "agreed":
        return ["fee_pending", "closed"]
    if current == "fee_pending":
        return ["closed"]
    return []
