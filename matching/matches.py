"""Matching a demand to offers (and an offer to demands): key terms, synonyms and vectors, then hard constraints."""

import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.models.search import Hybrid, SearchParams

from exchange.kernel import auth
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Forbidden
from exchange.kernel.settings import Settings
from listings import public as listings
from listings.public import Listing
from matching import constraints, documents, embeddings, engine, indexer, repo, search, terms
from matching.schemas import Explanation, MatchItem, MatchResults

CANDIDATES = 50
MAX_GROUPS = 8
MAX_KEYWORDS = 6
BAG_WORDS = 10  # Meilisearch reads at most ten words of a query.
# Searches per multi-search request when many listings are matched at once.
MULTI_SEARCH_CHUNK = 100
# Listings' texts whose probes are remembered.
PLAN_CACHE_SIZE = 4096
# How much each kind of evidence counts towards relevance (they sum to 1). Chosen on bench/matching_eval's first set,
# where semantic weights from 0.2 to 0.4 scored within 0.005 (nDCG@10 0.914-0.919; the best, 0.4, is kept): shared
# technical terms say the most where the glossary knows them; the model's latent terms carry what no shared word does,
# across languages, and lean on no glossary.
WEIGHT_SEMANTIC, WEIGHT_TERMS, WEIGHT_BAG = 0.40, 0.40, 0.20
# The cosine of two listings' latent terms (uninformative features left out): on the first set, unrelated offers sit
# at a median of 0.16 (0.10 at the 10th percentile), the same technology at 0.27 (0.40 at the 90th). The band stretched
# to 0–1 starts below nearly every unrelated pair, so no corpus whose texts are less alike loses the signal; its ends
# were chosen on the first set alone (0.03–0.30 with weight 0.40: nDCG@10 0.927 settled, every band tried 0.918–0.927).
SEMANTIC_FLOOR, SEMANTIC_CEILING = 0.03, 0.30
# Candidates below this relevance are left out: they share too little with the listing. Alerts use a higher floor.
MIN_RELEVANCE = 0.10
# Counterparts whose latent terms a matching request computes itself when the background job has not yet: about 0.1 s
# of the model each, two at once.
TEXTS_COMPUTED_PER_REQUEST = 8
# Each broken hard constraint scales the score down, so breakers rank below keepers of similar relevance.
PENALTY = {"sector": 0.85, "trl": 0.75, "transfer_mode": 0.8, "budget": 0.75, "region": 0.95}


@dataclass(frozen=True)
class Probe:
    """One short query derived from the listing, and the terms it stands for."""

    label: str
    query: str
    weight: float
    # The words of a keyword written with diacritics. Meilisearch compares words without them, so `nuôi ong` (keeping
    # bees) also finds `nuôi` and `ống` (a pipe) in a shrimp farm's pump; a hit in a text written with diacritics counts
    # only where it has these very words.
    spelled: frozenset[str] | None = None


@dataclass
class Candidate:
    """What the probes found about one counterpart."""

    listing: dict[str, Any]
    terms: list[str] = field(default_factory=list)
    term_weight: float = 0.0
    bag: float = 0.0
    # None until both texts' latent terms are known (a listing just published may not have them yet).
    semantic: float | None = None


def probes(row: Listing) -> list[Probe]:
    """Short queries for a long listing: its glossary terms (title and keywords first), keywords and salient words."""
    return list(_probes(row.title, tuple(row.keywords), row.summary or "", row.description))


# A burst's matcher plans the searches of every demand its offers reach, batch after batch: reading the glossary
# terms out of ~700 demands' texts each time took ~2 s of a batch. Keyed by the text itself, never stale.
@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def _probes(title: str, keywords: tuple[str, ...], summary: str, description: str) -> tuple[Probe, ...]:
    head = f"{title}\n{' '.join(keywords)}"
    body = f"{summary}\n{description}"
    found: list[Probe] = []
    seen_groups: set[int] = set()
    for text, weight in ((head, 2.0), (body, 1.0)):
        for group in terms.glossary_groups(text):
            if group not in seen_groups and len(seen_groups) < MAX_GROUPS:
                seen_groups.add(group)
                found.append(Probe(label=terms.group_label(group), query=terms.group_terms(group)[0], weight=weight))
    covered = {t for g in seen_groups for t in terms.group_terms(g)}
    for keyword in keywords[:MAX_KEYWORDS]:
        folded = engine.fold(keyword)
        if folded not in covered:
            found.append(keyword_probe(keyword))
    return tuple(found)


def keyword_probe(keyword: str) -> Probe:
    """The probe of one of a listing's keywords."""
    spelled = terms.spelled_words(keyword) if terms.has_diacritics(keyword) else None
    return Probe(label=keyword.lower(), query=keyword, weight=1.5, spelled=spelled)


def bag_query(row: Listing) -> str:
    """The listing's most telling words, as one query of at most ten words."""
    return _bag_query(row.title, tuple(row.keywords), row.description)


@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def _bag_query(title: str, keywords: tuple[str, ...], description: str) -> str:
    return " ".join(terms.salient_words(f"{title} {title} {' '.join(keywords)} {description}", BAG_WORDS))


def exclusions(row: Listing, only: list[UUID] | None = None, exclude_owner: bool = True) -> list[str]:
    """Only public counterparts (or just some of them), of other organizations unless told otherwise."""
    clauses = [f"expires_at > {int(datetime.now(UTC).timestamp())}"]
    if exclude_owner:
        clauses.append(f'owner_org_id != "{row.owner_org_id}"')
    if only is not None:
        clauses.append(search.ids_in(only))
    return clauses


def queries_for(
    settings: Settings,
    row: Listing,
    vector: list[float] | None,
    only: list[UUID] | None = None,
    exclude_owner: bool = True,
    retrieve: tuple[str, ...] = ("listing",),
) -> tuple[list[SearchParams], list[Probe]]:
    """Every probe, the word bag and the listing's own vector as searches of the other kind's index."""
    other = "offer" if row.kind == "demand" else "demand"
    uid = engine.index_uid(settings, other)
    where = exclusions(row, only, exclude_owner)
    # Limited to some counterparts, every one of them that a search finds must come back.
    limit = max(CANDIDATES, len(only)) if only is not None else CANDIDATES
    found = probes(row)
    queries = [
        SearchParams(
            index_uid=uid,
            query=p.query,
            filter=where,
            limit=limit,
            matching_strategy="all",
            attributes_to_retrieve=list(retrieve),
            show_ranking_score=True,
        )
        for p in found
    ]
    queries.append(
        SearchParams(
            index_uid=uid,
            query=bag_query(row),
            filter=where,
            limit=limit,
            matching_strategy="frequency",
            attributes_to_retrieve=list(retrieve),
            show_ranking_score=True,
        )
    )
    if vector is not None:
        queries.append(
            SearchParams(
                index_uid=uid,
                query="",
                vector=vector,
                filter=where,
                limit=limit,
                hybrid=Hybrid(semantic_ratio=1.0, embedder=engine.EMBEDDER),
                attributes_to_retrieve=list(retrieve),
                show_ranking_score=True,
            )
        )
    return queries, found


def collect(
    results: list[Any], found: list[Probe], semantic: bool, views: dict[str, dict[str, Any]] | None = None
) -> dict[str, Candidate]:
    """What the searches of queries_for found, by counterpart id (each hit's listing from `views` when given)."""
    candidates: dict[str, Candidate] = {}
    written: dict[str, frozenset[str] | None] = {}

    def listing_of(hit: dict[str, Any]) -> dict[str, Any]:
        return hit["listing"] if views is None else views[hit["id"]]

    def candidate(hit: dict[str, Any]) -> Candidate:
        listing = listing_of(hit)
        return candidates.setdefault(listing["id"], Candidate(listing=listing))

    def spelled_out(probe: Probe, hit: dict[str, Any]) -> bool:
        if probe.spelled is None:
            return True
        listing = listing_of(hit)
        if listing["id"] not in written:
            written[listing["id"]] = written_words(listing)
        words = written[listing["id"]]
        return words is None or probe.spelled <= words

    for probe, result in zip(found, results, strict=False):
        for hit in result.hits:
            if spelled_out(probe, hit):
                c = candidate(hit)
                c.terms.append(probe.label)
                c.term_weight += probe.weight
    for hit in results[len(found)].hits:
        candidate(hit).bag = hit.get("_rankingScore", 0.0)
    # The vector search brings in the counterparts closest in meaning; how close each one is, the latent terms say.
    if semantic:
        for hit in results[len(found) + 1].hits:
            candidate(hit)
    return candidates


def written_words(view: dict[str, Any]) -> frozenset[str] | None:
    """The words of a Vietnamese listing written with diacritics, as written; None for any other listing."""
    return _written_words(documents.view_embedding_text(view), view.get("language"))


# A burst's matcher collects the same batch offers for every demand it reaches: each offer's text is read once.
@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def _written_words(text: str, language: str | None) -> frozenset[str] | None:
    return terms.spelled_words(text) if language == "vi" and terms.has_diacritics(text) else None


async def add_semantics(
    conn: asyncpg.Connection, gathered: list[tuple[Listing, dict[str, Candidate], list[Probe]]]
) -> None:
    """Score each candidate's closeness in meaning to its listing: the cosine of their latent terms, stretched."""
    own = {row.id: indexer.text_key(row) for row, _, _ in gathered}
    texts = {
        listing_id: (documents.view_embedding_text(c.listing), c.listing.get("language"))
        for _, cs, _ in gathered
        for listing_id, c in cs.items()
    }
    theirs = {listing_id: indexer.key_of(*text) for listing_id, text in texts.items()}
    known = await repo.cached_latents(conn, list({*own.values(), *theirs.values()}))
    # A counterpart published moments ago may still wait for the background job. The likeliest answers among those
    # have their latent terms computed now, so that the first matches anyone sees already weigh their meaning (the job
    # then finds them cached). A few, and none that another process is computing, so the request stays near a second.
    pending: dict[str, float] = {}
    for _, candidates, found in gathered:
        total = sum(p.weight for p in found)
        for listing_id, c in candidates.items():
            if theirs[listing_id] not in known:
                pending[listing_id] = max(pending.get(listing_id, 0.0), words(c, total))
    if chosen := sorted(pending, key=pending.__getitem__, reverse=True)[:TEXTS_COMPUTED_PER_REQUEST]:
        now = {theirs[listing_id]: texts[listing_id] for listing_id in chosen}
        known.update(await indexer.encoded_once(conn, now, repo.cached_latents, lambda _, t: t, wait=False))
    for row, candidates, _ in gathered:
        mine = known.get(own[row.id])
        for listing_id, c in candidates.items():
            other = known.get(theirs[listing_id])
            c.semantic = semantic_score(embeddings.similarity(mine, other)) if mine and other else None


async def gather(
    conn: asyncpg.Connection, client: AsyncClient, settings: Settings, row: Listing, vector: list[float] | None
) -> tuple[dict[str, Candidate], list[Probe]]:
    """Run every probe, the word bag and the listing's own vector in one multi-search; score what they found on the
    probes and the bag asked again among those candidates alone."""
    queries, found = queries_for(settings, row, vector)
    async with engine.unavailable_as_503():
        results = await client.multi_search(queries)
        candidates = collect(results, found, vector is not None)
        if candidates:
            # Each search keeps its best CANDIDATES: a candidate may also match a probe beyond another search's best.
            # The probes are asked again among the candidates alone, so that a score depends on the two listings only,
            # the same as an alert's (whose searches look among the new listings alone).
            ids = sorted(UUID(listing_id) for listing_id in candidates)
            again, _ = queries_for(settings, row, None, ids, retrieve=("id",))
            views = {listing_id: c.listing for listing_id, c in candidates.items()}
            evidence = collect(await client.multi_search(again), found, False, views)
            candidates = {k: evidence.get(k, Candidate(listing=c.listing)) for k, c in candidates.items()}
    if vector is not None:
        await add_semantics(conn, [(row, candidates, found)])
    return candidates, found


async def searched_many(client: AsyncClient, planned: list[list[SearchParams]]) -> list[list[Any]]:
    """The results of each listing's searches, in as few searches as possible: a search asked twice runs once."""
    distinct: dict[tuple[Any, ...], int] = {}
    searches: list[SearchParams] = []
    positions = []
    for queries in planned:
        mine = []
        for q in queries:
            # A vector search is the listing's own; a keyword search is the same for every listing that asks it.
            key = (
                q.index_uid,
                q.query,
                tuple(q.filter),
                q.matching_strategy,
                q.limit,
                tuple(q.attributes_to_retrieve or ()),
                len(searches) if q.vector else None,
            )
            if key not in distinct:
                distinct[key] = len(searches)
                searches.append(q)
            mine.append(distinct[key])
        positions.append(mine)
    results: list[Any] = []
    async with engine.unavailable_as_503():
        for start in range(0, len(searches), MULTI_SEARCH_CHUNK):
            results.extend(await client.multi_search(searches[start : start + MULTI_SEARCH_CHUNK]))
    return [[results[i] for i in mine] for mine in positions]


async def reached_many(
    client: AsyncClient, settings: Settings, rows: list[Listing], vectors: list[list[float] | None]
) -> list[set[str]]:
    """The ids of the counterparts that gather would find for each of these listings, without their listings."""
    # Ids alone: reading the whole listing of every hit out of the index is most of a search's cost here.
    planned = [
        queries_for(settings, row, vector, retrieve=("id",))[0] for row, vector in zip(rows, vectors, strict=True)
    ]
    return [
        {hit["id"] for result in results for hit in result.hits} for results in await searched_many(client, planned)
    ]


async def gather_many(
    conn: asyncpg.Connection,
    client: AsyncClient,
    settings: Settings,
    rows: list[Listing],
    vectors: list[list[float] | None],
    only: list[Listing],
) -> list[tuple[dict[str, Candidate], list[Probe]]]:
    """gather for several listings limited to the `only` counterparts, in as few searches as possible.

    Listings share many probes (a glossary group's term, a common keyword). The owner exclusion is applied here
    instead of in the search, so that the same probe is the same search. The counterparts' views are those of the
    rows given (the state the index holds of them): the searches return ids alone, each up to one hit per counterpart,
    and reading the whole listing of every hit out of the index made most of a burst's matching time."""
    ids = sorted(r.id for r in only)
    views = {str(r.id): listings.public_json(r) for r in only}
    # Limited to these counterparts, a listing's vector search would bring back every public one of them (its limit is
    # at least their number): they are all candidates of a listing with a vector, without one search per listing.
    now = datetime.now(UTC)
    near = [str(r.id) for r in only if listings.is_public(r, now)]
    planned = [queries_for(settings, row, None, ids, exclude_owner=False, retrieve=("id",)) for row in rows]
    gathered = []
    results_of = await searched_many(client, [queries for queries, _ in planned])
    for row, (_, found), vector, results in zip(rows, planned, vectors, results_of, strict=True):
        candidates = collect(results, found, False, views)
        if vector is not None:
            for listing_id in near:
                candidates.setdefault(listing_id, Candidate(listing=views[listing_id]))
        candidates = {k: c for k, c in candidates.items() if c.listing["owner_org_id"] != str(row.owner_org_id)}
        gathered.append((candidates, found))
    await add_semantics(
        conn,
        [
            (row, candidates, found)
            for row, vector, (candidates, found) in zip(rows, vectors, gathered, strict=True)
            if vector
        ],
    )
    return gathered


def semantic_score(similarity: float) -> float:
    """A latent-term similarity stretched over the band where relatedness is decided, clipped to 0–1."""
    return min(1.0, max(0.0, (similarity - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR)))


def words(c: Candidate, total_weight: float) -> float:
    """What the candidate's words share with the listing's: its probes' share and its word-bag score, weighted."""
    term_share = min(1.0, c.term_weight / total_weight) if total_weight else 0.0
    return WEIGHT_TERMS * term_share + WEIGHT_BAG * c.bag


def relevance(c: Candidate, total_weight: float, typical_semantic: float | None) -> float:
    """How much a candidate has in common with the listing, from 0 to 1, before constraints."""
    evidence = words(c, total_weight)
    # Closeness not known yet (right after a catalogue is published) is taken as the listing's typical candidate's, so
    # it neither lifts nor sinks the candidate against those whose closeness is known. Simulated on the first set with
    # a random 20-80 % of the offers' latent terms known, nDCG@10 was 0.91-0.92 this way, 0.88-0.91 with the words'
    # evidence standing for the whole, 0.83-0.91 counting it as a fixed 0.2-0.35.
    semantic = c.semantic if c.semantic is not None else typical_semantic
    if semantic is None:
        return evidence / (WEIGHT_TERMS + WEIGHT_BAG)
    return WEIGHT_SEMANTIC * semantic + evidence


def typical_semantic(candidates: dict[str, Candidate]) -> float | None:
    """The mean closeness of the candidates whose closeness is known; None when none is."""
    known = [c.semantic for c in candidates.values() if c.semantic is not None]
    return sum(known) / len(known) if known else None


def rank(row_view: dict[str, Any], candidates: dict[str, Candidate], found: list[Probe]) -> list[MatchItem]:
    """Score, explain and order candidates: constraint keepers before breakers of the same relevance."""
    total_weight = sum(p.weight for p in found)
    typical = typical_semantic(candidates)
    items = []
    for c in candidates.values():
        base = relevance(c, total_weight, typical)
        if base < MIN_RELEVANCE:
            continue
        demand, offer = (row_view, c.listing) if row_view["kind"] == "demand" else (c.listing, row_view)
        checks = constraints.check_all(demand, offer)
        broken = [name for name, check in checks.items() if not check.holds]
        score = base
        for name in broken:
            score *= PENALTY[name]
        items.append(
            MatchItem(
                listing=c.listing,
                score=round(min(1.0, score), 4),
                explanation=Explanation(
                    matched_terms=c.terms,
                    semantic_similarity=round(c.semantic or 0.0, 4),
                    constraints=checks,
                    broken_constraints=broken,
                ),
            )
        )
    items.sort(key=lambda m: m.score, reverse=True)
    return items


async def own_vectors(conn: asyncpg.Connection, settings: Settings, rows: list[Listing]) -> list[list[float] | None]:
    """Each listing's own vector, the one it is indexed with: its semantic side when matching (None with embeddings off)."""
    # A listing is matched against other listings, so the vector it is indexed with (cached since indexing) is the
    # query: nothing to compute per request once the listing is indexed.
    return await indexer.vectors_for(conn, rows, settings.embeddings)


async def ranked(
    conn: asyncpg.Connection,
    client: AsyncClient,
    settings: Settings,
    row: Listing,
    vector: list[float] | None,
    limit: int,
) -> MatchResults:
    """Counterparts of a listing, best first."""
    started = time.perf_counter()
    candidates, found = await gather(conn, client, settings, row, vector)
    view = listings.public_json(row)
    items = rank(view, candidates, found)[:limit]
    return MatchResults(
        items=items, query_terms=[p.label for p in found], processing_ms=round((time.perf_counter() - started) * 1000)
    )


async def for_listing(
    conn: asyncpg.Connection,
    client: AsyncClient,
    settings: Settings,
    principal: Principal | None,
    kind: str,
    listing_id: UUID,
    limit: int,
) -> MatchResults:
    """Matches of one listing, for its owner's members, brokers and operators."""
    principal = auth.require(principal)
    row = await listings.visible(conn, principal, kind, listing_id)
    if not (principal.is_operator or principal.org_id == row.owner_org_id or principal.org_kind == "broker"):
        raise Forbidden(f"only the {kind}'s owner, brokers and operators may see its matches")
    [vector] = await own_vectors(conn, settings, [row])
    return await ranked(conn, client, settings, row, vector, limit)
