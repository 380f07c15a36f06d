"""HTTP routes of the statistics, the change feed and partner keys."""

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, Limit, RequestId, problems
from exchange.stats import service
from exchange.stats.schemas import ChangesPage, PartnerCreate, PartnerWithKeyOut, StatsOut

ExportFormat = Annotated[Literal["csv"], QueryParameter(description="The file format: csv (the only one so far)")]
Since = Annotated[str | None, QueryParameter(description="The next_cursor (or an item's position) of an earlier page")]


@get("/v1/stats", tags=["statistics"], responses=problems(400), summary="Exchange statistics")
async def get_stats(conn: Conn) -> StatsOut:
    """Aggregates of listings, interests, deals, fees and the review queue, read from one consistent snapshot; never private data."""
    return await service.stats(conn)


@get(
    "/v1/stats/export",
    tags=["statistics"],
    guards=KEYED,
    security=BEARER,
    media_type="text/csv; charset=utf-8",
    responses=problems(400, 401, 403),
    summary="Statistics export",
)
async def export_stats(conn: Conn, principal: Caller, format: ExportFormat = "csv") -> Response[bytes]:
    """The figures of GET /v1/stats as CSV for reporting (finance operators and admins): period, measure, dimension, value."""
    filename, body = await service.export_csv(conn, principal)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"},
    )


class ChangeFeedController(Controller):
    """The listing change feed and the partner exchanges that read it."""

    tags = ["operations"]
    security = BEARER
    guards = KEYED

    @get("/v1/changes", responses=problems(400, 401, 403), summary="Listing change feed")
    async def changes(self, conn: Conn, principal: Caller, since: Since = None, limit: Limit = 100) -> ChangesPage:
        """Public listing changes in commit order, for operators and partner exchanges to sync incrementally.

        Resume with `since=<next_cursor>`: a change committed later never appears before a position already served.
        """
        return await service.changes(conn, principal, since, limit)

    @post("/v1/partners", responses=problems(400, 401, 403, 409, 422), summary="Register a partner exchange")
    async def create_partner(
        self, conn: Conn, principal: Caller, request_id: RequestId, data: JSONBody[PartnerCreate]
    ) -> PartnerWithKeyOut:
        """Admins register a partner exchange, which gets a key (shown once) that reads the change feed only."""
        return await service.create_partner(conn, principal, data, request_id)

    @delete(
        "/v1/partners/{member_id:uuid}", responses=problems(400, 401, 403, 404), summary="Remove a partner exchange"
    )
    async def remove_partner(
        self, conn: Conn, principal: Caller, request_id: RequestId, member_id: FromPath[UUID]
    ) -> None:
        """Admins remove a partner exchange; its keys stop working at once."""
        await service.remove_partner(conn, principal, member_id, request_id)
