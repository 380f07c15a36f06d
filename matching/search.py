"""Full-text search of published listings: filters, facets, sort and highlights over Meilisearch."""

import functools
import itertools
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import aiohttp
import msgspec
from meilisearch_python_sdk.index._common import process_search_parameters

from exchange.kernel.errors import param_error
from exchange.kernel.settings import Settings
from exchange.kernel.taxonomy import region_code
from matching import engine, terms
from matching.schemas import SearchFilters, SearchHit, SearchResults

# Marked whole; the description is cut to a passage around its first mark. Highlighting or cropping the long
# description in Meilisearch made a search cost it about five times as much (20,000 listings, measured).
HIGHLIGHTED = ["title", "summary"]
HIGHLIGHT_PRE, HIGHLIGHT_POST = "<em>", "</em>"
CROP_WORDS, CROP_MARKER = 30, "..."
# Words longer than this are rare enough that a passage may start a word later because of them.
LONGEST_WORD = 64
MAX_OFFSET = 1000
_WORD = re.compile(r"[0-9a-z]+")
_SPACED = re.compile(r"\S+")
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


def _pattern(alternatives: list[str], firsts: set[str]) -> re.Pattern[str] | None:
    if not alternatives:
        return None
    # A match can only start on one of its terms' first letters: checked once before the terms are tried one by one,
    # which took a third off the time highlighting spends in the pattern.
    starts = re.escape("".join(sorted({_SPELLINGS.get(c, c) for c in firsts})))
    return re.compile(f"(?=[{starts}])(?<![^\\W_])(?:{'|'.join(alternatives)})(?![^\\W_])")


def _glossary_spellings(q: str) -> set[str]:
    return {t for group in terms.glossary_groups(q) for t in terms.group_terms(group)}


@functools.lru_cache(maxsize=1024)
def query_pattern(q: str) -> re.Pattern[str] | None:
    """The query's glossary terms' spellings and its words (the last one as a prefix, as Meilisearch reads it)."""
    words = _WORD.findall(engine.fold(q))
    spellings = _glossary_spellings(q)
    prefix = [_spelled(w) + r"[^\W_]*" for w in words[-1:]]
    alternatives = [_spelled(t) for t in sorted(spellings, key=len, reverse=True)]
    alternatives += [_spelled(w) for w in sorted(words[:-1], key=len, reverse=True)] + prefix
    return _pattern(alternatives, {t[0] for t in spellings} | {w[0] for w in words})


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
    # Only the words near the first match are split out: splitting a whole long description cost a search more than
    # everything else done here for its hit.
    at = first.start()
    while at > 0 and not text[at - 1].isspace():
        at -= 1
    reach = max(0, at - CROP_WORDS * LONGEST_WORD)
    before = [m.span() for m in _SPACED.finditer(text, reach, at)]
    if before and reach > 0 and before[0][0] == reach and not text[reach - 1].isspace():
        before = before[1:]
    after = [m.span() for m in itertools.islice(_SPACED.finditer(text, at), CROP_WORDS)]
    # Near the end of the text the passage starts earlier, so that it still holds CROP_WORDS words.
    lead = min(len(before), max(CROP_WORDS // 4, CROP_WORDS - len(after)))
    words = (before[len(before) - lead :] + after)[:CROP_WORDS]
    a, b = words[0][0], words[-1][1]
    lead_marker, tail = (CROP_MARKER if a > 0 else ""), (CROP_MARKER if b < len(text) else "")
    return f"{lead_marker}{_marked(text[a:b], pattern)}{tail}"


def highlights(hit: dict[str, Any], q: str | None) -> dict[str, str]:
    """The title, summary and a passage of the description, marked where a query word or a glossary equivalent occurs.

    Only fields with a mark are returned."""
    # Marked here, not by Meilisearch: a hit found through the other language matched the equivalents in its hidden
    # `terms` field, which Meilisearch would not mark in the text people read, and asking it to highlight made every
    # hit come back twice (the listing inside `_formatted` too).
    pattern = query_pattern(q) if q else None
    if pattern is None:
        return {}
    listing, found = hit["listing"], {}
    for name in HIGHLIGHTED:
        value = listing.get(name)
        if isinstance(value, str) and pattern.search(value := unicodedata.normalize("NFC", value)):
            found[name] = _marked(value, pattern)
    description = listing.get("description")
    if isinstance(description, str) and (passage := excerpt(description, pattern)):
        found["description"] = passage
    return found


class _Answer(msgspec.Struct, rename="camel"):
    """What the API uses of Meilisearch's answer to a search."""

    hits: list[dict[str, Any]]
    facet_distribution: dict[str, dict[str, int]] | None = None
    estimated_total_hits: int | None = None


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
        "show_ranking_score": True,
    }


async def search(
    session: aiohttp.ClientSession,
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
    arguments = search_arguments(
        kind, q=q, filters=filters, sort=sort, limit=limit, offset=offset, facet_names=facet_names
    )
    body = msgspec.json.encode(process_search_parameters(q=arguments.pop("query"), **arguments))
    # The body the SDK's index.search would send, posted without the SDK's wrapping of a search (an index object, its
    # argument handling, a pydantic model of every hit): the answer is decoded once, into what the API uses.
    async with engine.unavailable_as_503():
        answer = await engine.post_search(session, settings, engine.index_uid(settings, kind), body)
    result = msgspec.json.decode(answer, type=_Answer)
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
        facets=result.facet_distribution or {},
        estimated_total=result.estimated_total_hits or 0,
        processing_ms=round((time.perf_counter() - started) * 1000),
        limit=limit,
        offset=offset,
    )
