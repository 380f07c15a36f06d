"""HTTP routes of offers, demands and the taxonomy."""

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import CacheControlHeader, State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from exchange.kernel.auth import KEYED, Caller, Principal, provide_principal
from exchange.kernel.db import Conn, borrowed
from exchange.kernel.http import (
    BEARER,
    NOT_MODIFIED,
    Cursor,
    IdempotencyKey,
    IfMatch,
    IfNoneMatch,
    Limit,
    RequestId,
    decode_cursor,
    etag,
    json_response,
    none_match,
    not_modified,
    problems,
    remember_idempotent,
    replay_idempotent,
)
from exchange.kernel.schemas import Page
from exchange.kernel.taxonomy import TAXONOMY, Taxonomy
from listings import service
from listings.schemas import (
    DemandCreate,
    DemandOut,
    DemandUpdate,
    Language,
    ListingStatus,
    OfferCreate,
    OfferOut,
    OfferUpdate,
    RejectIn,
    SectorCode,
)


def _respond(row: Any, viewer: Principal | None, status_code: int = 200) -> Response:
    return Response(service.to_out(row, viewer), status_code=status_code, headers={"ETag": etag(row.version)})


def listing_controller(kind: str, create_type: type, update_type: type, out_type: type) -> type[Controller]:
    """The eight listing routes of one kind, typed with that kind's schemas for validation and docs."""
    plural = f"{kind}s"

    class ListingController(Controller):
        path = f"/v1/{plural}"
        tags = [plural]

        @post(
            "/",
            security=BEARER,
            guards=KEYED,
            responses=problems(400, 401, 403, 409, 413, 422),
            summary=f"Create a draft {kind}",
        )
        async def create(
            self,
            conn: Conn,
            principal: Caller,
            data: JSONBody[create_type],
            idempotency_key: IdempotencyKey = None,
        ) -> Response[out_type]:
            """Create a draft (editors of an organization that may own this kind). Honours Idempotency-Key."""
            scope = f"POST /v1/{plural}"
            if replay := await replay_idempotent(conn, principal, scope, idempotency_key, data):
                return replay
            row = await service.create(conn, principal, kind, data)
            return await remember_idempotent(conn, principal, scope, idempotency_key, _respond(row, principal, 201))

        @get("/", responses=problems(400, 401, 403, 422), summary=f"List {plural}")
        async def list_(
            self,
            request: Request,
            state: State,
            mine: FromQuery[bool] = False,
            status: FromQuery[ListingStatus | None] = None,
            sector: FromQuery[SectorCode | None] = None,
            region: FromQuery[str | None] = None,
            language: FromQuery[Language | None] = None,
            expires_within_days: Annotated[int | None, QueryParameter(ge=1, le=365)] = None,
            limit: Limit = 20,
            cursor: Cursor = None,
        ) -> Response[Page[out_type]]:
            """Published listings, newest first; mine=true lists all of one's own, with status and expiry filters. Operators filtering by status see every organization's: status=pending_review is the review queue, oldest submission first."""
            after = decode_cursor(cursor)
            public = not mine and status is None and expires_within_days is None
            anonymous = "authorization" not in request.headers
            # As in get_one: a kept page needs no connection, so this route borrows one itself only when it must.
            key = f"{kind} {sector} {region} {language} {limit} {cursor}"
            if public and anonymous and (body := await service.cached_page(state.listing_cache, key)) is not None:
                return json_response(body)
            async with borrowed(state) as conn:
                principal = await provide_principal(request)
                if public:
                    body = await service.stored_page(
                        conn,
                        principal,
                        kind,
                        sector=sector,
                        region=region,
                        language=language,
                        after=after,
                        limit=limit,
                        cache=state.listing_cache,
                        key=key,
                    )
                    if body is not None:
                        return json_response(body)
                page = await service.list_page(
                    conn,
                    principal,
                    kind,
                    mine=mine,
                    status=status,
                    sector=sector,
                    region=region,
                    language=language,
                    expires_within_days=expires_within_days,
                    after=after,
                    limit=limit,
                )
            return Response(page)

        @get("/{listing_id:uuid}", responses=problems(400, 401, 404) | NOT_MODIFIED, summary=f"One {kind}")
        async def get_one(
            self, request: Request, listing_id: FromPath[UUID], if_none_match: IfNoneMatch = None
        ) -> Response[out_type]:
            """A published listing, for anyone; others only for the owner's members and operators."""
            # The hottest read: an anonymous one served from this process's copy needs no connection, so this route
            # borrows its connection and resolves its caller itself, only when it has to (and takes the app's state
            # from the request: a State parameter is a new object per request).
            state = request.app.state
            view = None
            if "authorization" not in request.headers:
                view = await service.cached(state.listing_cache, kind, listing_id)
            if view is None:
                async with borrowed(state) as conn:
                    principal = await provide_principal(request)
                    view = await service.read(conn, principal, kind, listing_id, state.listing_cache)
            if view.unchanged and none_match(if_none_match, view.version):
                return not_modified(view.version)
            return json_response(view.body, view.version)

        @patch(
            "/{listing_id:uuid}",
            security=BEARER,
            guards=KEYED,
            responses=problems(400, 401, 403, 404, 412, 422),
            summary=f"Edit a {kind}",
        )
        async def update(
            self,
            conn: Conn,
            principal: Caller,
            listing_id: FromPath[UUID],
            data: JSONBody[update_type],
            if_match: IfMatch = None,
        ) -> Response[out_type]:
            """Edit (editors of the owner); a published listing goes back to review unless only price or contact changed."""
            return _respond(await service.update(conn, principal, kind, listing_id, data, if_match), principal)

        async def _act(
            self,
            state: State,
            conn: Conn,
            principal: Caller,
            listing_id: FromPath[UUID],
            action: str,
            if_match: str | None,
            reason: str | None = None,
            request_id: str | None = None,
        ) -> Response:
            ttl = state.settings.listing_ttl_days
            row = await service.act(
                conn, principal, kind, listing_id, action, if_match, ttl_days=ttl, reason=reason, request_id=request_id
            )
            return _respond(row, principal)

        @post(
            "/{listing_id:uuid}/submit",
            status_code=200,
            security=BEARER,
            guards=KEYED,
            responses=problems(400, 401, 403, 404, 409, 412),
            summary="Submit for review",
        )
        async def submit(
            self, state: State, conn: Conn, principal: Caller, listing_id: FromPath[UUID], if_match: IfMatch = None
        ) -> Response[out_type]:
            """Send a draft, rejected, withdrawn or expired listing to review (owner)."""
            return await self._act(state, conn, principal, listing_id, "submit", if_match)

        @post(
            "/{listing_id:uuid}/withdraw",
            status_code=200,
            security=BEARER,
            guards=KEYED,
            responses=problems(400, 401, 403, 404, 409, 412),
            summary="Withdraw",
        )
        async def withdraw(
            self, state: State, conn: Conn, principal: Caller, listing_id: FromPath[UUID], if_match: IfMatch = None
        ) -> Response[out_type]:
            """Take a listing off the exchange (owner)."""
            return await self._act(state, conn, principal, listing_id, "withdraw", if_match)

        @post(
            "/{listing_id:uuid}/renew",
            status_code=200,
            security=BEARER,
            guards=KEYED,
            responses=problems(400, 401, 403, 404, 409, 412),
            summary="Renew for another year",
        )
        async def renew(
            self, state: State, conn: Conn, principal: Caller, listing_id: FromPath[UUID], if_match: IfMatch = None
        ) -> Response[out_type]:
            """Publish for another year from now (owner)."""
            return await self._act(state, conn, principal, listing_id, "renew", if_match)

        @post(
            "/{listing_id:uuid}/approve",
            status_code=200,
            security=BEARER,
            guards=KEYED,
            responses=problems(400, 401, 403, 404, 409, 412),
            summary="Approve (reviewers)",
        )
        async def approve(
            self,
            state: State,
            conn: Conn,
            principal: Caller,
            request_id: RequestId,
            listing_id: FromPath[UUID],
            if_match: IfMatch = None,
        ) -> Response[out_type]:
            """Publish a listing pending review; its organization must be verified (reviewers and admins)."""
            return await self._act(state, conn, principal, listing_id, "approve", if_match, request_id=request_id)

        @post(
            "/{listing_id:uuid}/reject",
            status_code=200,
            security=BEARER,
            guards=KEYED,
            responses=problems(400, 401, 403, 404, 409, 412, 422),
            summary="Reject with a reason (reviewers)",
        )
        async def reject(
            self,
            state: State,
            conn: Conn,
            principal: Caller,
            request_id: RequestId,
            listing_id: FromPath[UUID],
            data: JSONBody[RejectIn],
            if_match: IfMatch = None,
        ) -> Response[out_type]:
            """Reject a listing pending review with a reason the owner sees (reviewers and admins)."""
            return await self._act(state, conn, principal, listing_id, "reject", if_match, data.reason, request_id)

    ListingController.__name__ = f"{kind.capitalize()}Controller"
    ListingController.__qualname__ = ListingController.__name__
    return ListingController


OfferController = listing_controller("offer", OfferCreate, OfferUpdate, OfferOut)
DemandController = listing_controller("demand", DemandCreate, DemandUpdate, DemandOut)


@get(
    "/v1/taxonomy",
    tags=["taxonomy"],
    summary="Classification lists",
    cache_control=CacheControlHeader(max_age=3600, public=True),
)
async def get_taxonomy() -> Taxonomy:
    """S&T fields and sectors, strategic technologies, TRL, transfer modes, IP statuses and provinces, in Vietnamese and English."""
    return TAXONOMY
