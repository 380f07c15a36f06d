"""HTTP route of valuation help."""

from typing import Annotated

from litestar import get
from litestar.params import QueryParameter

from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, problems
from exchange.kernel.taxonomy import SectorCode, TransferMode
from exchange.valuation import service
from exchange.valuation.schemas import ValuationOut

# Each parameter is required; they are optional here only so that a missing one is a problem naming it (service.py).
Sector = Annotated[SectorCode | None, QueryParameter(description="The offer's sector code (GET /v1/taxonomy)")]
Mode = Annotated[TransferMode | None, QueryParameter(description="The transfer mode of the deal")]
Trl = Annotated[
    int | None, QueryParameter(ge=1, le=9, description="The offer's TRL; deals of offers within ±1 compare")
]


@get(
    "/v1/valuation",
    tags=["deals"],
    security=BEARER,
    guards=KEYED,
    responses=problems(400, 401, 403),
    summary="Valuation help from comparable deals",
)
async def get_valuation(
    conn: Conn, principal: Caller, sector: Sector = None, transfer_mode: Mode = None, trl: Trl = None
) -> ValuationOut:
    """The 25th, 50th and 75th percentiles of what deals of comparable offers (same sector, same transfer mode, TRL ±1) were agreed for, on a coarse grid; null below 5 such deals, so no single deal's value can be read."""
    return await service.valuation(conn, principal, sector, transfer_mode, trl)
