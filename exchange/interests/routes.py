"""HTTP routes of interests."""

from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from exchange.interests import service
from exchange.interests.schemas import Box, InterestCreate, InterestOut, InterestStatus
from exchange.kernel.auth import KEYED, Caller, require
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, Cursor, IfMatch, Limit, decode_cursor, etag, next_cursor, problems
from exchange.kernel.schemas import Page


async def _respond(
    conn: Conn, row: service.InterestRow, principal: Caller, status_code: int = 200
) -> Response[InterestOut]:
    out = await service.to_out(conn, row, require(principal))
    return Response(out, status_code=status_code, headers={"ETag": etag(row.version)})


class InterestController(Controller):
    """Expressing interest in listings, the two boxes, and the owner's decision."""

    tags = ["interests"]
    security = BEARER
    guards = KEYED

    @post(
        "/v1/offers/{listing_id:uuid}/interests",
        responses=problems(400, 401, 403, 404, 409, 422),
        summary="Express interest in an offer",
    )
    async def offer_interest(
        self, conn: Conn, principal: Caller, listing_id: FromPath[UUID], data: JSONBody[InterestCreate]
    ) -> Response[InterestOut]:
        """Editors of a verified organization ask the owner of a published offer to connect (one pending at a time)."""
        row = await service.express(conn, principal, "offer", listing_id, data)
        return await _respond(conn, row, principal, 201)

    @post(
        "/v1/demands/{listing_id:uuid}/interests",
        responses=problems(400, 401, 403, 404, 409, 422),
        summary="Express interest in a demand",
    )
    async def demand_interest(
        self, conn: Conn, principal: Caller, listing_id: FromPath[UUID], data: JSONBody[InterestCreate]
    ) -> Response[InterestOut]:
        """Editors of a verified organization ask the owner of a published demand to connect (one pending at a time)."""
        row = await service.express(conn, principal, "demand", listing_id, data)
        return await _respond(conn, row, principal, 201)

    @get("/v1/interests", responses=problems(400, 401, 403), summary="Received or sent interests")
    async def list_(
        self,
        conn: Conn,
        principal: Caller,
        box: FromQuery[Box] = "received",
        status: FromQuery[InterestStatus | None] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Page[InterestOut]:
        """The interests one's organization received (in its listings) or sent, newest first."""
        rows = await service.list_page(conn, principal, box, status, decode_cursor(cursor), limit + 1)
        viewer = require(principal)
        # Each item may read what accepting revealed, so the conversion awaits and page_of does not fit.
        items = [await service.to_out(conn, r, viewer) for r in rows[:limit]]
        return Page(items=items, next_cursor=next_cursor(rows, limit))

    @get("/v1/interests/{interest_id:uuid}", responses=problems(400, 401, 404), summary="One interest")
    async def get_one(self, conn: Conn, principal: Caller, interest_id: FromPath[UUID]) -> Response[InterestOut]:
        """An interest, for its two parties (with what accepting revealed) and operators."""
        return await _respond(conn, await service.get(conn, principal, interest_id), principal)

    @post(
        "/v1/interests/{interest_id:uuid}/accept",
        status_code=200,
        responses=problems(400, 401, 403, 404, 409, 412),
        summary="Accept an interest",
    )
    async def accept(
        self, conn: Conn, principal: Caller, interest_id: FromPath[UUID], if_match: IfMatch = None
    ) -> Response[InterestOut]:
        """The listing owner (editor+) accepts: each side's contact and the offer's confidential details are revealed to the other."""
        return await _respond(conn, await service.decide(conn, principal, interest_id, "accept", if_match), principal)

    @post(
        "/v1/interests/{interest_id:uuid}/decline",
        status_code=200,
        responses=problems(400, 401, 403, 404, 409, 412),
        summary="Decline an interest",
    )
    async def decline(
        self, conn: Conn, principal: Caller, interest_id: FromPath[UUID], if_match: IfMatch = None
    ) -> Response[InterestOut]:
        """The listing owner (editor+) declines; nothing is revealed."""
        return await _respond(conn, await service.decide(conn, principal, interest_id, "decline", if_match), principal)
