"""Meilisearch: the shared client, index names, index settings and task checks."""

import asyncio
import contextlib
import functools
import logging
import re
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2
import msgspec
import yarl
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import MeilisearchApiError, MeilisearchCommunicationError, MeilisearchTimeoutError
from meilisearch_python_sdk.json_handler import BuiltinHandler
from meilisearch_python_sdk.models.settings import (
    Faceting,
    Filter,
    FilterableAttributeFeatures,
    FilterableAttributes,
    MeilisearchSettings,
    MinWordSizeForTypos,
    Pagination,
    TypoTolerance,
    UserProvidedEmbedder,
)
from meilisearch_python_sdk.models.task import TaskInfo

from exchange.kernel import metrics
from exchange.kernel.errors import Unavailable
from exchange.kernel.settings import Settings
from matching import embeddings
from matching.glossary import GLOSSARY

log = logging.getLogger("matching.engine")

KINDS = ("offer", "demand")
# Listings' vectors are their latent terms folded (matching.embeddings); an index set up with another embedder has it
# removed when its settings are applied.
EMBEDDER = "latent"
TASK_TIMEOUT_SECONDS = 60.0
STARTUP_WAIT_SECONDS = 15.0
# A search answers in milliseconds; one still unanswered after this is a Meilisearch in trouble: 503, not a hung request.
SEARCH_TIMEOUT_SECONDS = 10.0
SEARCH_CONNECTIONS = 32


class IndexingError(RuntimeError):
    """Meilisearch accepted a task and then did not carry it out."""


def index_uid(settings: Settings, kind: str) -> str:
    """The index of offers or of demands for this deployment."""
    return f"{settings.meili_index_prefix}{kind}s"


class MsgspecJson(BuiltinHandler):
    """The SDK's JSON through msgspec: decoding a page of hits with the standard library was a tenth of a search."""

    @staticmethod
    def dumps(obj: Any) -> str:
        return msgspec.json.encode(obj).decode()

    @staticmethod
    def dump_bytes(obj: Any) -> bytes:
        return msgspec.json.encode(obj)

    @staticmethod
    def loads(json_string: str | bytes | bytearray) -> Any:
        return msgspec.json.decode(json_string)


def open_client(settings: Settings) -> AsyncClient:
    """One client per process: keep-alive connections, uncompressed answers (compression cost ~40 ms a search)."""
    client = AsyncClient(
        settings.meili_url,
        settings.meili_master_key or None,
        timeout=30,
        custom_headers={"Accept-Encoding": "identity"},
        json_handler=MsgspecJson(),
    )
    metrics.observe_client(client.http_client, "meilisearch")
    return client


def fold(text: str) -> str:
    """Lower-case without diacritics (đ → d): how Meilisearch compares words."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def synonyms() -> dict[str, list[str]]:
    """Two-way Vietnamese↔English synonyms: each term (written or unaccented) stands for its group's first term in the other language."""
    # One alternative per term: each alternative is one more phrase every query containing the term must match, and
    # with all of a group's terms searches took 2–3x longer. Documents carry every equivalent in their `terms` field.
    mapping: dict[str, list[str]] = {}
    for group in GLOSSARY:
        vietnamese = [t for t in group if fold(t) != t]
        english = [t for t in group if fold(t) == t]
        for term in english:
            mapping[term] = [vietnamese[0]]
        for term in vietnamese:
            mapping[term] = [english[0]]
            mapping.setdefault(fold(term), [english[0]])
    return mapping


_WORD = re.compile(r"[0-9a-z]+")


def _words(term: str) -> set[str]:
    return set(_WORD.findall(term))


def _swallows(longer: str, target: str) -> bool:
    """Whether a document's mention of `target` can be taken by the key-term matcher as a mention of `longer`."""
    # The matcher (matching.terms) takes the leftmost, then longest, term and never overlaps two: `target` is missed
    # where another term contains it, or ends with the words it starts with ("... nuoc thai" + "nuoc thai chan nuoi").
    if longer == target:
        return True
    for start in (m.start() for m in re.finditer(re.escape(target), longer)):
        end = start + len(target)
        if (start == 0 or not longer[start - 1].isalnum()) and (end == len(longer) or not longer[end].isalnum()):
            return True
    for k in range(1, min(len(longer), len(target))):
        if longer.endswith(target[:k]) and not longer[-k - 1].isalnum() and not target[k].isalnum():
            return True
    return False


@functools.cache
def query_synonyms() -> dict[str, list[str]]:
    """The one-word synonyms a query still needs: those whose target a document can hold without the term in `terms`."""
    # Documents carry every equivalent of the terms they mention in `terms`, so a synonym changes an answer only where
    # the key-term matcher can miss its target in a text (swallowed by an overlapping term of another group) and the
    # words of that other group do not cover the query term. Multi-word ones are left out even then: Meilisearch 1.21
    # matches each as a phrase, and the ~1,100 of them that could change an answer made a search cost 2-3x more.
    group_of = {fold(t): i for i, group in enumerate(GLOSSARY) for t in group}
    group_words = [set().union(*(_words(fold(t)) for t in group)) for group in GLOSSARY]
    by_word: dict[str, list[str]] = {}
    for spelling in group_of:
        for word in _words(spelling):
            by_word.setdefault(word, []).append(spelling)
    needed: dict[str, list[str]] = {}
    for term, [target] in synonyms().items():
        folded = fold(target)
        if len(_words(fold(term))) > 1 or len(_WORD.findall(folded)) > 1 or not folded.isalnum():
            continue
        mine, wanted = group_of[folded], _words(fold(term)) - _words(folded)
        # Any spelling that can take `target` shares at least its first word.
        first = _WORD.findall(folded)[0]
        if any(
            group_of[u] != mine and _swallows(u, folded) and not wanted <= group_words[group_of[u]]
            for u in by_word.get(first, ())
        ):
            needed[term] = [target]
    return needed


def _filter(*, comparison: bool = False, facet_search: bool = False, patterns: list[str]) -> FilterableAttributes:
    return FilterableAttributes(
        attribute_patterns=patterns,
        features=FilterableAttributeFeatures(
            facet_search=facet_search, filter=Filter(equality=True, comparison=comparison)
        ),
    )


COMMON_FACETS = ["sector", "sector_field", "region", "language", "strategic_groups"]
OFFER_FACETS = [*COMMON_FACETS, "trl", "ip_status", "transfer_modes", "price_type"]
DEMAND_FACETS = [*COMMON_FACETS, "trl_min", "transfer_modes"]


def index_settings(kind: str) -> MeilisearchSettings:
    """Settings chosen for listings: what is searched, filtered, sorted and faceted, and how words match."""
    # Equality-only filters are cheaper to index; numbers and dates also need ranges.
    equality = [
        "id",
        "owner_org_id",
        "sector",
        "sector_field",
        "region",
        "language",
        "strategic_groups",
        "transfer_modes",
        "ip_status",
        "price_type",
    ]
    ranges = ["trl", "trl_min", "price_amount", "budget_amount", "published_at", "expires_at", "deadline"]
    return MeilisearchSettings(
        searchable_attributes=["title", "keywords", "summary", "terms", "description"],
        displayed_attributes=["id", "title", "summary", "description", "keywords", "listing"],
        filterable_attributes=[_filter(patterns=equality), _filter(patterns=ranges, comparison=True)],
        sortable_attributes=["published_at", "price_amount", "budget_amount", "quality_score"],
        ranking_rules=["words", "typo", "proximity", "attribute", "sort", "exactness", "quality_score:desc"],
        # Vietnamese syllables are short: let 4-letter words take one typo, long compounds two.
        typo_tolerance=TypoTolerance(
            enabled=True, disable_on_numbers=True, min_word_size_for_typos=MinWordSizeForTypos(one_typo=4, two_typos=8)
        ),
        # A trailing stop word becomes a prefix query that can drop every hit: none at all.
        stop_words=[],
        synonyms=query_synonyms(),
        faceting=Faceting(max_values_per_facet=100, sort_facet_values_by={"*": "count"}),
        pagination=Pagination(max_total_hits=1000),
        embedders={EMBEDDER: UserProvidedEmbedder(dimensions=embeddings.DIMENSIONS)},
    )


async def wait_for(client: AsyncClient, tasks: list[TaskInfo], timeout: float = TASK_TIMEOUT_SECONDS) -> None:
    """Wait until every task is done and raise unless each one succeeded (an accepted task can still fail)."""
    for info in tasks:
        task = await client.wait_for_task(info.task_uid, timeout_in_ms=int(timeout * 1000), interval_in_ms=5)
        if task.status != "succeeded":
            raise IndexingError(f"task {task.uid} ({task.task_type}) {task.status}: {task.error}")


async def ensure_indexes(client: AsyncClient, settings: Settings, *, wait: bool = True) -> None:
    """Create both indexes if missing and apply their settings (a no-op for Meilisearch when unchanged)."""
    for kind in KINDS:
        await ensure_index(client, index_uid(settings, kind), kind, wait=wait)


async def ensure_index(client: AsyncClient, uid: str, kind: str, *, wait: bool = True) -> None:
    """Create one index if missing and apply the settings for its kind."""
    try:
        await client.get_index(uid)
    except MeilisearchApiError as exc:
        if exc.code != "index_not_found":
            raise
        await client.create_index(uid, primary_key="id", wait=True, timeout_in_ms=int(TASK_TIMEOUT_SECONDS * 1000))
    index = client.index(uid)
    tasks = []
    embedders = await index.get_embedders()
    # A document must carry a vector (or null) for every embedder of its index: one left from an earlier version of
    # the vectors would make every new document's batch fail.
    if embedders and set(embedders.embedders) - {EMBEDDER}:
        tasks.append(await index.reset_embedders())
    tasks.append(await index.update_settings(index_settings(kind)))
    if wait:
        await wait_for(client, tasks)


async def ensure_indexes_until_ready(client: AsyncClient, settings: Settings) -> None:
    """Keep trying to set the indexes up while Meilisearch is away (start-up must not depend on it)."""
    delay = 0.5
    while True:
        try:
            await ensure_indexes(client, settings)
            return
        except Exception as exc:  # noqa: BLE001 - retried with backoff until Meilisearch answers
            log.warning("search indexes not ready (%r); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


@contextlib.asynccontextmanager
async def request_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    """The client request handlers share; the indexes are set up now, or in the background while Meilisearch is away."""
    client = open_client(settings)
    setup = asyncio.create_task(ensure_indexes_until_ready(client, settings))
    try:
        # Usually done in well under a second; start serving anyway if Meilisearch is slow or away.
        await asyncio.wait([setup], timeout=STARTUP_WAIT_SECONDS)
        yield client
    finally:
        setup.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await setup
        await client.aclose()


@contextlib.asynccontextmanager
async def search_session(settings: Settings) -> AsyncIterator[aiohttp.ClientSession]:
    """The HTTP session searches are posted through, one per process, with keep-alive connections.

    Not the SDK's httpx client: aiohttp reads an answer with its C parser, and a search of 20 hits cost the service
    about a third of the CPU it took through httpx's transport (measured, 8 concurrent searches)."""
    headers = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
    if settings.meili_master_key:
        headers["Authorization"] = f"Bearer {settings.meili_master_key}"
    session = aiohttp.ClientSession(
        headers=headers,
        timeout=aiohttp.ClientTimeout(total=SEARCH_TIMEOUT_SECONDS),
        connector=aiohttp.TCPConnector(limit=SEARCH_CONNECTIONS),
        skip_auto_headers=["User-Agent"],
    )
    try:
        yield session
    finally:
        await session.close()


@functools.lru_cache(maxsize=64)
def _search_url(base: str, uid: str) -> yarl.URL:
    return yarl.URL(base.rstrip("/") + "/") / "indexes" / uid / "search"


async def post_search(session: aiohttp.ClientSession, settings: Settings, uid: str, body: bytes) -> bytes:
    """POST a prebuilt search body to an index and return the answer's bytes (an error status raises as the SDK would)."""
    url = _search_url(settings.meili_url, uid)
    with metrics.timed_call("meilisearch"):
        async with session.post(url, data=body) as response:
            content = await response.read()
    metrics.count_status("meilisearch", response.status)
    if response.status >= 400:
        answer = httpx2.Response(response.status, content=content, request=httpx2.Request("POST", str(url)))
        raise MeilisearchApiError(f"search answered {response.status}", answer)
    return content


@contextlib.asynccontextmanager
async def unavailable_as_503() -> AsyncIterator[None]:
    """Turn Meilisearch being away (or an index not there yet) into a 503 problem instead of a 500."""
    try:
        yield
    except (
        httpx2.TransportError,
        MeilisearchCommunicationError,
        MeilisearchTimeoutError,
        aiohttp.ClientError,
        TimeoutError,
    ) as exc:
        raise Unavailable("the search engine is not reachable; retry shortly") from exc
    except MeilisearchApiError as exc:
        if exc.code == "index_not_found":
            raise Unavailable("the search indexes are being set up; retry shortly") from exc
        raise
