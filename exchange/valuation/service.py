"""Who may ask for valuation help, and which deals compare."""

import asyncpg

from exchange.kernel import auth
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Forbidden, param_error
from exchange.kernel.schemas import Money
from exchange.valuation import repo, rules
from exchange.valuation.schemas import ValuationBasis, ValuationOut, ValueRange

# Agreed or later: a deal's value is fixed from agreement on.
STAGES = ["agreed", "fee_pending", "closed"]
TRL_SPAN = 1


def require_reader(principal: Principal | None) -> Principal:
    """Members of verified organizations and operators; anyone else with a key is refused."""
    principal = auth.require(principal)
    if not principal.is_operator and principal.org_status != "verified":
        raise Forbidden("valuation help is for members of verified organizations and operators")
    return principal


def basis(sector: str, transfer_mode: str, trl: int) -> ValuationBasis:
    """The comparison made for these parameters."""
    return ValuationBasis(
        sector=sector,
        transfer_mode=transfer_mode,
        trl_from=max(trl - TRL_SPAN, 1),
        trl_to=min(trl + TRL_SPAN, 9),
        stages=list(STAGES),
        currency="VND",
        min_count=rules.MIN_COUNT,
        rounding="r10",
    )


async def valuation(
    conn: asyncpg.Connection,
    principal: Principal | None,
    sector: str | None,
    transfer_mode: str | None,
    trl: int | None,
) -> ValuationOut:
    """Percentiles of what comparable deals were agreed for, or only the basis when too few compare."""
    require_reader(principal)
    if sector is None:
        raise param_error("sector", "required: the offer's sector code")
    if transfer_mode is None:
        raise param_error("transfer_mode", "required: the transfer mode of the deal")
    if trl is None:
        raise param_error("trl", "required: the offer's TRL, 1 to 9")
    compared = basis(sector, transfer_mode, trl)
    amounts = await repo.comparable_values(
        conn, sector, transfer_mode, compared.trl_from, compared.trl_to, compared.stages
    )
    found = rules.percentiles(amounts)
    if found is None:
        return ValuationOut(count=None, value=None, basis=compared)
    p25, p50, p75 = (Money(amount=a, currency="VND") for a in found)
    return ValuationOut(count=len(amounts), value=ValueRange(p25=p25, p50=p50, p75=p75), basis=compared)
