"""Search, matching and subscription routes."""

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, Cursor, IfMatch, Limit, decode_cursor, etag, page_of, problems
from exchange.kernel.schemas import Page
from exchange.kernel.taxonomy import IpStatus, Language, SectorCode, TransferMode
from matching import matches, search, subscriptions
from matching.schemas import (
    MatchResults,
    NotificationOut,
    SearchFilters,
    SearchResults,
    SortOrder,
    SubscriptionCreate,
    SubscriptionOut,
)

Offset = Annotated[int, QueryParameter(ge=0, le=search.MAX_OFFSET, description="Hits to skip")]
TrlParam = Annotated[int | None, QueryParameter(ge=1, le=9)]
Amount = Annotated[int | None, QueryParameter(ge=0, description="VND")]
Facets = Annotated[str | None, QueryParameter(description="Comma-separated facet names, e.g. sector,region,trl")]


def search_route(kind: str) -> type[Controller]:
    """GET /v1/search/{kind}s: full-text search of one kind of published listing."""

    class SearchController(Controller):
        path = f"/v1/search/{kind}s"
        tags = ["search"]

        @get("/", responses=problems(400), summary=f"Search published {kind}s", cache=False)
        async def run(
            self,
            state: State,
            q: Annotated[str | None, QueryParameter(max_length=500)] = None,
            sector: FromQuery[SectorCode | None] = None,
            trl_min: TrlParam = None,
            trl_max: TrlParam = None,
            transfer_mode: FromQuery[list[TransferMode] | None] = None,
            region: Annotated[str | None, QueryParameter(max_length=100)] = None,
            price_max: Amount = None,
            language: FromQuery[Language | None] = None,
            ip_status: FromQuery[IpStatus | None] = None,
            sort: FromQuery[SortOrder] = "relevance",
            limit: Limit = 20,
            offset: Offset = 0,
            facets: Facets = None,
        ) -> SearchResults:
            """Published listings matching the query (typed with or without diacritics, in either language), filtered and faceted."""
            filters = SearchFilters(
                sector=sector,
                trl_min=trl_min,
                trl_max=trl_max,
                transfer_mode=transfer_mode or [],
                region=region,
                price_max=price_max,
                language=language,
                ip_status=ip_status,
            )
            return await search.search(
                state.meili_search,
                state.settings,
                kind,
                q=q,
                filters=filters,
                sort=sort,
                limit=limit,
                offset=offset,
                facets=facets,
            )

    SearchController.__name__ = f"{kind.title()}SearchController"
    return SearchController


OfferSearchController = search_route("offer")
DemandSearchController = search_route("demand")


def matches_route(kind: str) -> type[Controller]:
    """GET /v1/{kind}s/{id}/matches: counterparts ranked for one listing."""

    class MatchController(Controller):
        path = f"/v1/{kind}s"
        tags = ["matching"]

        @get(
            "/{listing_id:uuid}/matches",
            security=BEARER,
            guards=KEYED,
            responses=problems(400, 401, 403, 404),
            summary=f"Counterparts ranked for one {kind}",
        )
        async def run(
            self,
            state: State,
            conn: Conn,
            principal: Caller,
            listing_id: FromPath[UUID],
            limit: Limit = 20,
        ) -> MatchResults:
            """Ranked matches (score 0–1) with their explanation: shared terms and each hard constraint. For the owner, brokers and operators."""
            return await matches.for_listing(conn, state.meili, state.settings, principal, kind, listing_id, limit)

    MatchController.__name__ = f"{kind.title()}MatchController"
    return MatchController


OfferMatchController = matches_route("offer")
DemandMatchController = matches_route("demand")


class SubscriptionController(Controller):
    """Being told when a newly published listing matches: subscriptions and their notifications."""

    path = "/v1/subscriptions"
    tags = ["subscriptions"]
    security = BEARER
    guards = KEYED

    @post("/", responses=problems(400, 401, 403, 409, 413, 422), summary="Subscribe to new matching listings")
    async def create(
        self, state: State, conn: Conn, principal: Caller, data: JSONBody[SubscriptionCreate]
    ) -> Response[SubscriptionOut]:
        """Be told of each newly published offer or demand matching a query and the search filters; with webhook_url, each notification is also POSTed there, signed with the webhook_secret returned only in this response."""
        out = await subscriptions.create(conn, state.settings, principal, data)
        return Response(out, status_code=201, headers={"ETag": etag(out.version)})

    @get("/", responses=problems(400, 401, 403), summary="One's subscriptions")
    async def list_(
        self, conn: Conn, principal: Caller, limit: Limit = 20, cursor: Cursor = None
    ) -> Page[SubscriptionOut]:
        """The caller's own subscriptions (demands' automatic ones included), newest first."""
        rows = await subscriptions.list_page(conn, principal, decode_cursor(cursor), limit + 1)
        return page_of(rows, limit, subscriptions.to_out)

    @get("/{subscription_id:uuid}", responses=problems(400, 401, 403, 404), summary="One subscription")
    async def get_one(
        self, conn: Conn, principal: Caller, subscription_id: FromPath[UUID]
    ) -> Response[SubscriptionOut]:
        """One of the caller's own subscriptions."""
        row = await subscriptions.get(conn, principal, subscription_id)
        return Response(subscriptions.to_out(row), headers={"ETag": etag(row.version)})

    @delete("/{subscription_id:uuid}", responses=problems(400, 401, 403, 404, 412), summary="Unsubscribe")
    async def remove(
        self, conn: Conn, principal: Caller, subscription_id: FromPath[UUID], if_match: IfMatch = None
    ) -> None:
        """Stop one of the caller's own subscriptions for good; pending webhook deliveries are dropped."""
        await subscriptions.delete(conn, principal, subscription_id, if_match)

    @get(
        "/{subscription_id:uuid}/notifications",
        responses=problems(400, 401, 403, 404),
        summary="What matched a subscription",
    )
    async def notifications(
        self,
        conn: Conn,
        principal: Caller,
        subscription_id: FromPath[UUID],
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Page[NotificationOut]:
        """Listings that matched one of the caller's subscriptions when published, newest first, each as it is now (null once no longer public)."""
        items = await subscriptions.notifications_page(
            conn, principal, subscription_id, decode_cursor(cursor), limit + 1
        )
        return page_of(items, limit, lambda item: item)
