"""Full-text search of published listings: filters, facets, sort and highlights over Meilisearch."""

import functools
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from meilisearch_python_sdk import AsyncClient

from exchange.kernel.errors import param_error
from exchange.kernel.settings import Settings
from exchange.kernel.taxonomy import region_code
from matching import engine, terms
from matching.schemas import SearchFilters, SearchHit, SearchResults

# Meilisearch marks the short fields; the description's passage is cut and marked here: highlighting or cropping
# the long description made a search cost Meilisearch about five times as much (20,000 listings, measured).
HIGHLIGHTED = ["title", "summary"]
HIGHLIGHT_PRE, HIGHLIGHT_POST = "<em>", "</em>"
CROP_WORDS, CROP_MARKER = 30, "..."
MAX_OFFSET = 1000
_WORD = re.compile(r"[0-9a-z]+")
_SPACED = re.compile(r"\S+")
_MARKED = re.compile(f"({re.escape(HIGHLIGHT_PRE)}.*?{re.escape(HIGHLIGHT_POST)})", re.DOTALL)
# Each folded letter as the class of every letter that folds to it (capitals, Vietnamese letters, đ): patterns then
# match the text as written, without folding every hit's text in Python first.
_SPELLINGS: dict[str, str] = {}
for _cp in range(0x30, 0x2000):
    if len(_f := engine.fold(chr(_cp))) == 1 and _f.isascii() and _f.isalnum():
        _SPELLINGS[_f] = _SPELLINGS.get(_f, "") + chr(_cp)
_LETTER = {f: f"[{''.join(chars)}]" if len(chars) > 1 else chars for f, chars in _SPELLINGS.items()}

# The API's parameter names mapped onto each kind's document fields.
FIELDS = {
    "offer": {"trl": "trl", "price": "price_amount", "modes": "transfer_modes"},
    "demand": {"trl": "trl_min", "price": "budget_amount", "modes": "transfer_modes"},
}
FACET_NAMES = {"offer": engine.OFFER_FACETS, "demand": engine.DEMAND_FACETS}


def quoted(value: str) -> str:
    """A filter value; only validated codes reach here, the escape is for safety."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ids_in(ids: list[UUID]) -> str:
    """A filter that keeps only these listings."""
    return f"id IN [{', '.join(quoted(str(i)) for i in ids)}]"


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


def _spelled(folded: str) -> str:
    """A folded term as a pattern matching it written with or without diacritics, in any case."""
    return "".join(_LETTER.get(c) or re.escape(c) for c in folded)


def _pattern(alternatives: list[str]) -> re.Pattern[str] | None:
    if not alternatives:
        return None
    return re.compile(f"(?<![^\\W_])(?:{'|'.join(alternatives)})(?![^\\W_])")


def _glossary(q: str) -> list[str]:
    spellings = {t for group in terms.glossary_groups(q) for t in terms.group_terms(group)}
    return [_spelled(t) for t in sorted(spellings, key=len, reverse=True)]


@functools.lru_cache(maxsize=1024)
def glossary_pattern(q: str) -> re.Pattern[str] | None:
    """Every spelling, in both languages, of the glossary terms a query mentions, as one pattern."""
    return _pattern(_glossary(q))


@functools.lru_cache(maxsize=1024)
def query_pattern(q: str) -> re.Pattern[str] | None:
    """The query's glossary terms' spellings and its words (the last one as a prefix, as Meilisearch reads it)."""
    words = _WORD.findall(engine.fold(q))
    prefix = [_spelled(w) + r"[^\W_]*" for w in words[-1:]]
    return _pattern(_glossary(q) + [_spelled(w) for w in sorted(words[:-1], key=len, reverse=True)] + prefix)


def _marked(text: str, pattern: re.Pattern[str]) -> str:
    out, end = [], 0
    for m in pattern.finditer(text):
        out.append(f"{text[end : m.start()]}{HIGHLIGHT_PRE}{text[m.start() : m.end()]}{HIGHLIGHT_POST}")
        end = m.end()
    out.append(text[end:])
    return "".join(out)


def excerpt(text: str, pattern: re.Pattern[str]) -> str | None:
    """About CROP_WORDS words of a text from just before its first match, every match marked; None without one."""
    text = unicodedata.normalize("NFC", text)
    first = pattern.search(text)
    if first is None:
        return None
    words = [m.span() for m in _SPACED.finditer(text)]
    at = next(i for i, (_, end) in enumerate(words) if end > first.start())
    start = max(0, min(at - CROP_WORDS // 4, len(words) - CROP_WORDS))
    stop = min(len(words), start + CROP_WORDS)
    a, b = words[start][0], words[stop - 1][1]
    lead, tail = (CROP_MARKER if a > 0 else ""), (CROP_MARKER if b < len(text) else "")
    return f"{lead}{_marked(text[a:b], pattern)}{tail}"


def mark_terms(text: str, pattern: re.Pattern[str]) -> str:
    """Mark the query's glossary terms, in either language, outside the passages Meilisearch already marked."""
    # A hit found through the other language matched the glossary equivalents in its hidden `terms` field, so
    # Meilisearch marks nothing in the text people read: mark the equivalents it holds ourselves.
    parts = _MARKED.split(unicodedata.normalize("NFC", text))
    return "".join(p if p.startswith(HIGHLIGHT_PRE) else _marked(p, pattern) for p in parts)


def highlights(hit: dict[str, Any], q: str | None) -> dict[str, str]:
    """The highlighted passages of the fields where a query word, or one of its glossary equivalents, matched."""
    formatted, found = hit.get("_formatted") or {}, {}
    if not q:
        return found
    glossary = glossary_pattern(q)
    for name in HIGHLIGHTED:
        value = formatted.get(name)
        if isinstance(value, str):
            if glossary is not None:
                value = mark_terms(value, glossary)
            if HIGHLIGHT_PRE in value:
                found[name] = value
    description, pattern = hit["listing"].get("description"), query_pattern(q)
    if isinstance(description, str) and pattern is not None and (passage := excerpt(description, pattern)):
        found["description"] = passage
    return found


def search_arguments(
    kind: str, *, q: str | None, filters: SearchFilters, sort: str, limit: int, offset: int, facet_names: list[str]
) -> dict[str, Any]:
    """The SDK's search arguments for these API parameters (the benchmark sends the same)."""
    return {
        "query": q or None,
        "filter": filter_clauses(kind, filters),
        "sort": sort_rule(kind, sort),
        "facets": facet_names or None,
        "limit": limit,
        "offset": offset,
        "attributes_to_retrieve": ["listing"],
        "attributes_to_highlight": HIGHLIGHTED if q else None,
        "highlight_pre_tag": HIGHLIGHT_PRE,
        "highlight_post_tag": HIGHLIGHT_POST,
        "show_ranking_score": True,
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
        arguments = search_arguments(
            kind, q=q, filters=filters, sort=sort, limit=limit, offset=offset, facet_names=facet_names
        )
        result = await client.index(engine.index_uid(settings, kind)).search(**arguments)
    hits = [
        SearchHit(
            listing=hit["listing"],
            score=round(hit.get("_rankingScore", 0.0), 4),
            highlights=highlights(hit, q),
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
