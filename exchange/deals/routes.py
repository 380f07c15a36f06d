"""HTTP routes of deals."""

from typing import Annotated, Literal
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from msgspec import Meta

from exchange.deals import service
from exchange.deals.rules import Stage
from exchange.deals.schemas import CancelIn, ConfirmIn, DealCreate, DealEventOut, DealOut, TermsIn
from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import (
    BEARER,
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    RequestId,
    decode_cursor,
    encode_cursor,
    etag,
    page_of,
    problems,
    remember_idempotent,
    replay_idempotent,
)
from exchange.kernel.schemas import Page


def _respond(row: service.DealRow, status_code: int = 200) -> Response[DealOut]:
    return Response(service.to_out(row), status_code=status_code, headers={"ETag": etag(row.version)})


# A deal's trail pages on its events' sequence numbers.
SeqPosition = tuple[Literal["e"], Annotated[int, Meta(ge=0)]]


class DealController(Controller):
    """Deals: open, propose terms, confirm, cancel, and the trail."""

    path = "/v1/deals"
    tags = ["deals"]
    security = BEARER
    guards = KEYED

    @post("/", responses=problems(400, 401, 403, 409, 413, 422), summary="Open a deal")
    async def create(
        self, conn: Conn, principal: Caller, data: JSONBody[DealCreate], idempotency_key: IdempotencyKey = None
    ) -> Response[DealOut]:
        """A broker (who becomes its broker), or the buyer or seller of an accepted interest linking the offer, opens a deal. Honours Idempotency-Key."""
        scope = "POST /v1/deals"
        if replay := await replay_idempotent(conn, principal, scope, idempotency_key, data):
            return replay
        response = _respond(await service.create(conn, principal, data), 201)
        return await remember_idempotent(conn, principal, scope, idempotency_key, response)

    @get("/", responses=problems(400, 401, 403), summary="List deals")
    async def list_(
        self,
        conn: Conn,
        principal: Caller,
        stage: FromQuery[Stage | None] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Page[DealOut]:
        """Deals of one's organization as buyer, seller or broker, newest first; operators see every deal."""
        rows = await service.list_page(conn, principal, stage, decode_cursor(cursor), limit + 1)
        return page_of(rows, limit, service.to_out)

    @get("/{deal_id:uuid}", responses=problems(400, 401, 404), summary="One deal")
    async def get_one(self, conn: Conn, principal: Caller, deal_id: FromPath[UUID]) -> Response[DealOut]:
        """A deal, for its buyer, seller, broker and operators."""
        return _respond(await service.get(conn, principal, deal_id))

    @post(
        "/{deal_id:uuid}/terms",
        status_code=200,
        responses=problems(400, 401, 403, 404, 409, 412, 422),
        summary="Propose terms",
    )
    async def terms(
        self, conn: Conn, principal: Caller, deal_id: FromPath[UUID], data: JSONBody[TermsIn], if_match: IfMatch = None
    ) -> Response[DealOut]:
        """Any party or the broker proposes terms: terms_version goes up and both confirmations are cleared."""
        return _respond(await service.propose(conn, principal, deal_id, data, if_match))

    @post(
        "/{deal_id:uuid}/confirm",
        status_code=200,
        responses=problems(400, 401, 403, 404, 409, 412, 422),
        summary="Confirm the current terms",
    )
    async def confirm(
        self,
        conn: Conn,
        principal: Caller,
        deal_id: FromPath[UUID],
        data: JSONBody[ConfirmIn],
        if_match: IfMatch = None,
    ) -> Response[DealOut]:
        """The buyer or seller confirms the current terms_version (a stale one is 409); both confirmed means agreed."""
        return _respond(await service.confirm(conn, principal, deal_id, data, if_match))

    @post(
        "/{deal_id:uuid}/cancel",
        status_code=200,
        responses=problems(400, 401, 403, 404, 409, 412, 422),
        summary="Cancel a deal",
    )
    async def cancel(
        self,
        conn: Conn,
        principal: Caller,
        request_id: RequestId,
        deal_id: FromPath[UUID],
        data: JSONBody[CancelIn],
        if_match: IfMatch = None,
    ) -> Response[DealOut]:
        """Any party, the broker or a finance operator cancels a deal that has not closed; payments refunds what was paid."""
        return _respond(await service.cancel(conn, principal, deal_id, data, if_match, request_id))

    @get("/{deal_id:uuid}/events", responses=problems(400, 401, 404), summary="The deal's trail")
    async def events(
        self, conn: Conn, principal: Caller, deal_id: FromPath[UUID], limit: Limit = 100, cursor: Cursor = None
    ) -> Page[DealEventOut]:
        """Append-only audit trail, oldest first: who did what, when (actor ids are null for the system)."""
        after = decode_cursor(cursor, SeqPosition)
        rows = await service.events(conn, principal, deal_id, after[1] if after else 0, limit + 1)
        page = rows[:limit]
        return Page(
            items=[
                DealEventOut(
                    id=r.id,
                    at=r.at,
                    actor_member_id=r.actor_member_id,
                    actor_org_id=r.actor_org_id,
                    action=r.action,
                    details=r.details,
                )
                for r in page
            ],
            next_cursor=encode_cursor("e", page[-1].seq) if len(rows) > limit else None,
        )
