"""Search, matching and subscription routes."""

from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, QueryParameter

from exchange.auth import KEYED, Caller
from exchange.db import Conn
from exchange.http import BEARER, Limit, problems
from listings.schemas import IpStatus, Language, SectorCode, TransferMode
from matching import matches, search
from matching.schemas import MatchResults, SearchFilters, SearchResults, SortOrder

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
            self, state: State, q: Annotated[str | None, QueryParameter(max_length=500)] = None,
            sector: FromQuery[SectorCode | None] = None, trl_min: TrlParam = None, trl_max: TrlParam = None,
            transfer_mode: FromQuery[list[TransferMode] | None] = None,
            region: Annotated[str | None, QueryParameter(max_length=100)] = None, price_max: Amount = None,
            language: FromQuery[Language | None] = None, ip_status: FromQuery[IpStatus | None] = None,
            sort: FromQuery[SortOrder] = "relevance", limit: Limit = 20, offset: Offset = 0, facets: Facets = None,
        ) -> SearchResults:
            """Published listings matching the query (typed with or without diacritics, in either language), filtered and faceted."""
            filters = SearchFilters(
                sector=sector, trl_min=trl_min, trl_max=trl_max, transfer_mode=transfer_mode or [], region=region,
                price_max=price_max, language=language, ip_status=ip_status,
            )
            return await search.search(
                state.meili, state.settings, kind, q=q, filters=filters, sort=sort, limit=limit, offset=offset, facets=facets,
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

        @get("/{listing_id:uuid}/matches", security=BEARER, guards=KEYED, responses=problems(400, 401, 403, 404),
             summary=f"Counterparts ranked for one {kind}")
        async def run(
            self, state: State, conn: Conn, principal: Caller, listing_id: FromPath[UUID], limit: Limit = 20,
        ) -> MatchResults:
            """Ranked matches (score 0–1) with their explanation: shared terms and each hard constraint. For the owner, brokers and operators."""
            return await matches.for_listing(conn, state.meili, state.settings, principal, kind, listing_id, limit)

    MatchController.__name__ = f"{kind.title()}MatchController"
    return MatchController


OfferMatchController = matches_route("offer")
DemandMatchController = matches_route("demand")
