"""Full-text search of published listings: filters, facets, sort and highlights over Meilisearch."""

import time
from datetime import UTC, datetime
from typing import Any

from meilisearch_python_sdk import AsyncClient

from exchange.kernel.errors import param_error
from exchange.kernel.settings import Settings
from exchange.kernel.taxonomy import region_code
from matching import engine
from matching.schemas import SearchFilters, SearchHit, SearchResults

HIGHLIGHTED = ["title", "summary", "description"]
HIGHLIGHT_PRE, HIGHLIGHT_POST = "<em>", "</em>"
CROP_WORDS = 30
MAX_OFFSET = 1000

# The API's parameter names mapped onto each kind's document fields.
FIELDS = {
    "offer": {"trl": "trl", "price": "price_amount", "modes": "transfer_modes"},
    "demand": {"trl": "trl_min", "price": "budget_amount", "modes": "transfer_modes"},
}
FACET_NAMES = {"offer": engine.OFFER_FACETS, "demand": engine.DEMAND_FACETS}


def quoted(value: str) -> str:
    """A filter value; only validated codes reach here, the escape is for safety."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filter_clauses(kind: str, filters: SearchFilters, now: datetime | None = None) -> list[str]:
    """Meilisearch filter clauses (ANDed) for these constraints, always excluding expired listings."""
    fields = FIELDS[kind]
    now = now or datetime.now(UTC)
    clauses = [f"expires_at > {int(now.timestamp())}"]
    if filters.sector:
        clauses.append(f"sector = {quoted(filters.sector)}")
    if filters.trl_min is not None and filters.trl_max is not None and filters.trl_min > filters.trl_max:
        raise param_error("trl_min", "must not be greater than trl_max")
    if filters.trl_min is not None:
        clauses.append(f"{fields['trl']} >= {filters.trl_min}")
    if filters.trl_max is not None:
        clauses.append(f"{fields['trl']} <= {filters.trl_max}")
    if filters.transfer_mode:
        clauses.append(f"{fields['modes']} IN [{', '.join(quoted(m) for m in filters.transfer_mode)}]")
    if filters.region:
        clauses.append(f"region = {quoted(region_code(filters.region, 'region', param_error))}")
    if filters.price_max is not None:
        clauses.append(f"{fields['price']} <= {filters.price_max}")
    if filters.language:
        clauses.append(f"language = {quoted(filters.language)}")
    if filters.ip_status:
        if kind != "offer":
            raise param_error("ip_status", "applies to offers only")
        clauses.append(f"ip_status = {quoted(filters.ip_status)}")
    return clauses


def sort_rule(kind: str, sort: str) -> list[str] | None:
    """Meilisearch sort for the API's sort parameter (relevance is the ranking rules' own order)."""
    if sort == "published_at":
        return ["published_at:desc"]
    if sort == "price":
        return [f"{FIELDS[kind]['price']}:asc"]
    return None


def facet_list(kind: str, facets: str | None) -> list[str]:
    """The facets asked for, checked against those the index offers."""
    if not facets:
        return []
    names = [f.strip() for f in facets.split(",") if f.strip()]
    allowed = FACET_NAMES[kind]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise param_error("facets", f"unknown facet {unknown[0]!r}; available: {', '.join(allowed)}")
    return list(dict.fromkeys(names))


def highlights(formatted: dict[str, Any] | None) -> dict[str, str]:
    """The highlighted passages of the fields where a query word matched."""
    if not formatted:
        return {}
    return {
        name: value for name in HIGHLIGHTED if isinstance(value := formatted.get(name), str) and HIGHLIGHT_PRE in value
    }


async def search(
    client: AsyncClient,
    settings: Settings,
    kind: str,
    *,
    q: str | None,
    filters: SearchFilters,
    sort: str,
    limit: int,
    offset: int,
    facets: str | None,
) -> SearchResults:
    """Search the published listings of one kind."""
    started = time.perf_counter()
    if offset + limit > MAX_OFFSET:
        raise param_error("offset", f"offset + limit may not exceed {MAX_OFFSET}; narrow the search instead")
    facet_names = facet_list(kind, facets)
    async with engine.unavailable_as_503():
        result = await client.index(engine.index_uid(settings, kind)).search(
            q or None,
            filter=filter_clauses(kind, filters),
            sort=sort_rule(kind, sort),
            facets=facet_names or None,
            limit=limit,
            offset=offset,
            attributes_to_retrieve=["listing"],
            attributes_to_highlight=HIGHLIGHTED if q else None,
            attributes_to_crop=["description"] if q else None,
            crop_length=CROP_WORDS,
            highlight_pre_tag=HIGHLIGHT_PRE,
            highlight_post_tag=HIGHLIGHT_POST,
            show_ranking_score=True,
        )
    hits = [
        SearchHit(
            listing=hit["listing"],
            score=round(hit.get("_rankingScore", 0.0), 4),
            highlights=highlights(hit.get("_formatted")),
        )
        for hit in result.hits
    ]
    return SearchResults(
        hits=hits,
        facets={name: dict(values) for name, values in (result.facet_distribution or {}).items()},
        estimated_total=result.estimated_total_hits or 0,
        processing_ms=round((time.perf_counter() - started) * 1000),
        limit=limit,
        offset=offset,
    )
