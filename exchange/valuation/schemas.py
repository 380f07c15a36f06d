"""API schemas of valuation help."""

from typing import Literal

from exchange.kernel.schemas import ApiStruct, Money


class ValueRange(ApiStruct, kw_only=True):
    """Percentiles of the comparable deals' agreed values, each a point of the grid (see `basis.rounding`)."""

    p25: Money
    p50: Money
    p75: Money


class ValuationBasis(ApiStruct, kw_only=True):
    """What was compared."""

    sector: str
    transfer_mode: str
    trl_from: int
    trl_to: int
    """The offer's TRL of a comparable deal lies in trl_from..trl_to: the TRL asked for, ±1, within 1..9."""
    stages: list[str]
    """Deals in these stages count (agreed or later); cancelled ones never do."""
    currency: Literal["VND"]
    min_count: int
    """Below this many comparable deals, neither `value` nor `count` is shown."""
    rounding: Literal["r10"]
    """Each deal value is first put on the nearest of ten points per decade (1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8
    times a power of ten); percentiles are nearest-rank over those points, so each is one of them."""


class ValuationOut(ApiStruct, kw_only=True):
    """A price reference from agreed deals of comparable offers."""

    count: int | None
    """How many deals compare; null below `basis.min_count` (in a narrow slice a small count could tell which
    offer found a buyer)."""
    value: ValueRange | None
    """Null below `basis.min_count` comparable deals."""
    basis: ValuationBasis
