"""HTTP routes of auctions."""

from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody

from exchange.auctions import service
from exchange.auctions.rules import Kind, Status
from exchange.auctions.schemas import AuctionCreate, AuctionOut, BidIn, BidOut, CancelIn
from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import (
    BEARER,
    Cursor,
    IdempotencyKey,
    Limit,
    RequestId,
    decode_cursor,
    etag,
    page_of,
    problems,
    remember_idempotent,
    replay_idempotent,
)
from exchange.kernel.schemas import Page


def _respond(row: service.AuctionRow, principal: Caller, status_code: int = 200) -> Response[AuctionOut]:
    return Response(service.to_out(row, principal), status_code=status_code, headers={"ETag": etag(row.version)})


class AuctionController(Controller):
    """Auctions of published offers: english or sealed-bid, closed by themselves at ends_at into an agreed deal."""

    path = "/v1/auctions"
    tags = ["auctions"]

    @post(
        "/",
        guards=KEYED,
        security=BEARER,
        responses=problems(400, 401, 403, 409, 422),
        summary="Auction an offer",
    )
    async def create(self, conn: Conn, principal: Caller, data: JSONBody[AuctionCreate]) -> Response[AuctionOut]:
        """Editors of the organization owning a published offer auction it; one open or scheduled auction per offer
        (409). It is scheduled until starts_at, then open until ends_at, when it closes by itself."""
        return _respond(await service.create(conn, principal, data), principal, 201)

    @get("/", responses=problems(400, 401), summary="List auctions")
    async def list_(
        self,
        conn: Conn,
        principal: Caller,
        offer_id: FromQuery[UUID | None] = None,
        kind: FromQuery[Kind | None] = None,
        status: FromQuery[Status | None] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Page[AuctionOut]:
        """Auctions of published offers, newest first, for anyone; a seller also sees its own, operators every one."""
        rows = await service.list_page(conn, principal, offer_id, kind, status, decode_cursor(cursor), limit + 1)
        at = service.now()
        return page_of(rows, limit, lambda r: service.to_out(r, principal, at))

    @get("/{auction_id:uuid}", responses=problems(400, 401, 404), summary="One auction")
    async def get_one(self, conn: Conn, principal: Caller, auction_id: FromPath[UUID]) -> Response[AuctionOut]:
        """An auction of a published offer, for anyone (its seller and operators: whatever the offer's status)."""
        return _respond(await service.get(conn, principal, auction_id), principal)

    @post(
        "/{auction_id:uuid}/bids",
        guards=KEYED,
        security=BEARER,
        responses={
            200: ResponseSpec(
                data_container=BidOut, description="A sealed bid replaced the organization's earlier one"
            ),
            **problems(400, 401, 403, 404, 409, 422),
        },
        summary="Bid",
    )
    async def bid(
        self,
        conn: Conn,
        principal: Caller,
        auction_id: FromPath[UUID],
        data: JSONBody[BidIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BidOut]:
        """Editors of a verified organization other than the seller bid while the auction is open (409 otherwise).
        201 for a new bid; 200 when a sealed bid replaced the organization's earlier one. Honours Idempotency-Key."""
        scope = f"POST /v1/auctions/{auction_id}/bids"
        if replay := await replay_idempotent(conn, principal, scope, idempotency_key, data):
            return replay
        row, created = await service.bid(conn, principal, auction_id, data)
        response = Response(service.bid_out(row), status_code=201 if created else 200)
        return await remember_idempotent(conn, principal, scope, idempotency_key, response)

    @get(
        "/{auction_id:uuid}/bids",
        guards=KEYED,
        security=BEARER,
        responses=problems(400, 401, 403, 404),
        summary="The bids",
    )
    async def bids(
        self, conn: Conn, principal: Caller, auction_id: FromPath[UUID], limit: Limit = 20, cursor: Cursor = None
    ) -> Page[BidOut]:
        """Newest first: every bid for the seller and operators (of a sealed auction only once closed), its own for a
        bidder; 403 for anyone else."""
        rows = await service.bids(conn, principal, auction_id, decode_cursor(cursor), limit + 1)
        return page_of(rows, limit, service.bid_out, "placed_at")

    @post(
        "/{auction_id:uuid}/cancel",
        status_code=200,
        guards=KEYED,
        security=BEARER,
        responses=problems(400, 401, 403, 404, 409, 422),
        summary="Cancel an auction",
    )
    async def cancel(
        self, conn: Conn, principal: Caller, request_id: RequestId, auction_id: FromPath[UUID], data: JSONBody[CancelIn]
    ) -> Response[AuctionOut]:
        """The seller's editors before the first bid; operators any time before the close."""
        return _respond(await service.cancel(conn, principal, auction_id, data, request_id), principal)
