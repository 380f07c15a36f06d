"""Subscriptions: who wants to hear of which new listings, matching a newly searchable listing, and notifications."""

import logging
import secrets
import time
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.models.search import SearchParams

from exchange.kernel import auth, outbox
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Conflict, Forbidden, NotFound, field_error
from exchange.kernel.http import check_if_match
from exchange.kernel.settings import Settings
from exchange.kernel.taxonomy import region_code
from listings import public as listings
from listings.public import Listing
from matching import engine, matches, repo, search, webhook_targets
from matching.repo import NotificationRow, SubscriptionRow
from matching.schemas import NotificationOut, SearchFilters, SubscriptionCreate, SubscriptionOut

log = logging.getLogger("matching.subscriptions")

SECRET_PREFIX = "whsec_"
# Each one is checked against every newly published listing of its kind: keep it bounded per member.
MAX_SUBSCRIPTIONS = 100
# Queries per multi-search request when checking new listings against plain subscriptions.
MULTI_SEARCH_CHUNK = 100
# A demand's alert fires only for a clear match: its matches list goes lower, but an alert is an interruption. On
# bench/matching_eval's first set this floor keeps 70 of 87 relevant pairs and lets through 51 of the 2,659 others
# listed (0.35 kept 77 and let through 118; 0.45 kept 63 and let through 12).
ALERT_MIN_SCORE = 0.40
# Reached by this share of the subscribed demands, a batch of offers is matched against all of them.
REACH_ALL_SHARE = 0.5
LISTING_KIND = {"offers": "offer", "demands": "demand"}


class NotificationCreated(outbox.Event, frozen=True, kw_only=True, tag="notification.created"):
    """A subscription matched a new listing: the webhook sender POSTs it (if it has a webhook), mail tells its member."""

    id: UUID
    subscription_id: UUID


def subscriber(principal: Principal | None) -> Principal:
    """Members of organizations and operators subscribe; partner keys only read the change feed."""
    principal = auth.require(principal)
    if principal.org_id is None and not principal.is_operator:
        raise Forbidden("only members of an organization and operators may subscribe")
    return principal


def validated_filters(kind: str, filters: SearchFilters) -> SearchFilters:
    """The filters as search applies them, with the region as a province code; a bad one is a 422 naming it."""
    if filters.trl_min is not None and filters.trl_max is not None and filters.trl_min > filters.trl_max:
        raise field_error("filters.trl_min", "must not be greater than filters.trl_max")
    if filters.ip_status is not None and kind != "offer":
        raise field_error("filters.ip_status", "applies to offers only")
    if filters.region is not None:
        filters = msgspec.structs.replace(filters, region=region_code(filters.region, "filters.region"))
    return msgspec.structs.replace(filters, transfer_mode=list(dict.fromkeys(filters.transfer_mode)))


async def checked_webhook(url: str, settings: Settings) -> None:
    """A webhook URL the exchange may POST to, or a 422 naming webhook_url."""
    try:
        await webhook_targets.check(url, settings.allow_private_webhooks)
    except webhook_targets.TargetRefused as exc:
        raise field_error("webhook_url", str(exc)) from exc
    except webhook_targets.TargetUnresolved as exc:
        raise field_error("webhook_url", "its host name does not resolve") from exc


def to_out(row: SubscriptionRow, secret: str | msgspec.UnsetType = msgspec.UNSET) -> SubscriptionOut:
    """A subscription as its owner sees it (the secret only when just created)."""
    return SubscriptionOut(
        id=row.id,
        kind=row.kind,
        query=row.query,
        filters=msgspec.convert(row.filters, SearchFilters),
        webhook_url=row.webhook_url,
        demand_id=row.demand_id,
        active=row.active,
        created_at=row.created_at,
        version=row.version,
        webhook_secret=secret,
    )


async def create(
    conn: asyncpg.Connection, settings: Settings, principal: Principal | None, data: SubscriptionCreate
) -> SubscriptionOut:
    """Subscribe the caller to new listings matching a query and filters; the webhook secret is returned this once."""
    principal = subscriber(principal)
    filters = validated_filters(LISTING_KIND[data.kind], data.filters)
    if data.webhook_url:
        await checked_webhook(data.webhook_url, settings)
    if await repo.count_own_subscriptions(conn, principal.member_id) >= MAX_SUBSCRIPTIONS:
        raise Conflict(f"a member may hold at most {MAX_SUBSCRIPTIONS} subscriptions; delete one first")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32) if data.webhook_url else None
    row = await repo.insert_subscription(
        conn,
        principal.member_id,
        principal.org_id,
        data.kind,
        data.query,
        msgspec.to_builtins(filters, order="deterministic"),
        data.webhook_url,
        secret,
    )
    return to_out(row, secret if secret else msgspec.UNSET)


async def get(conn: asyncpg.Connection, principal: Principal | None, subscription_id: UUID) -> SubscriptionRow:
    """One of the caller's own subscriptions; anyone else's is not found."""
    principal = subscriber(principal)
    row = await repo.own_subscription(conn, subscription_id, principal.member_id)
    if row is None:
        raise NotFound("no such subscription")
    return row


async def list_page(
    conn: asyncpg.Connection, principal: Principal | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[SubscriptionRow]:
    """The caller's subscriptions, newest first."""
    principal = subscriber(principal)
    return await repo.subscriptions_page(conn, principal.member_id, after, limit)


async def delete(
    conn: asyncpg.Connection, principal: Principal | None, subscription_id: UUID, if_match: str | None
) -> None:
    """Stop one of the caller's subscriptions for good (a demand's too: publishing it again will not revive it)."""
    row = await get(conn, principal, subscription_id)
    check_if_match(if_match, row.version)
    await repo.delete_subscription(conn, row.id)


async def notifications_page(
    conn: asyncpg.Connection,
    principal: Principal | None,
    subscription_id: UUID,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[NotificationOut]:
    """What matched one of the caller's subscriptions, newest first, with each listing as it is now."""
    row = await get(conn, principal, subscription_id)
    notes = await repo.notifications_page(conn, row.id, after, limit)
    views = await public_views(conn, [n.listing_id for n in notes])
    return [notification_out(n, views.get(n.listing_id)) for n in notes]


async def public_views(conn: asyncpg.Connection, ids: list[UUID]) -> dict[UUID, dict]:
    """The public view of each of these listings that is public now."""
    now = datetime.now(UTC)
    rows = await listings.rows_by_id(conn, list(dict.fromkeys(ids))) if ids else []
    return {r.id: listings.public_json(r) for r in rows if listings.is_public(r, now)}


def notification_out(row: NotificationRow, listing: dict | None) -> NotificationOut:
    """A notification with the listing's public view (None once the listing is no longer public)."""
    return NotificationOut(
        id=row.id,
        subscription_id=row.subscription_id,
        listing_id=row.listing_id,
        listing_version=row.listing_version,
        score=row.score,
        created_at=row.created_at,
        delivery_status=row.delivery_status,
        delivery_attempts=row.delivery_attempts,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        listing=listing,
    )


Pair = tuple[UUID, UUID]
"""(subscription id, listing id)."""


async def plain_scores(
    client: AsyncClient, settings: Settings, rows: list[Listing], subs: list[SubscriptionRow], eligible: set[Pair]
) -> dict[Pair, float]:
    """Which new listings satisfy which query-and-filter subscriptions, with the ranking score search gives them.

    One search per distinct (kind, query, filters), limited to the batch's listings of that kind, all in one
    multi-search: the work grows with the subscriptions or the listings, not with their product."""
    ids_of = {kind: [r.id for r in rows if r.kind == kind] for kind in engine.KINDS}
    # Subscriptions asking the same thing share one query.
    groups: dict[tuple[str, str | None, bytes], list[SubscriptionRow]] = {}
    for sub in subs:
        if ids_of[LISTING_KIND[sub.kind]]:
            key = (sub.kind, sub.query, msgspec.json.encode(sub.filters, order="deterministic"))
            groups.setdefault(key, []).append(sub)
    queries, owners = [], []
    for (sub_kind, query, _), members in groups.items():
        kind = LISTING_KIND[sub_kind]
        filters = msgspec.convert(members[0].filters, SearchFilters)
        clauses = [*search.filter_clauses(kind, filters), search.ids_in(ids_of[kind])]
        # Every word of an alert's query must be there (up to typos and synonyms): an alert should be precise.
        queries.append(
            SearchParams(
                index_uid=engine.index_uid(settings, kind),
                query=query,
                filter=clauses,
                limit=len(ids_of[kind]),
                matching_strategy="all",
                attributes_to_retrieve=["id"],
                show_ranking_score=True,
            )
        )
        owners.append(members)
    scores: dict[Pair, float] = {}
    for start in range(0, len(queries), MULTI_SEARCH_CHUNK):
        results = await client.multi_search(queries[start : start + MULTI_SEARCH_CHUNK])
        for members, result in zip(owners[start : start + MULTI_SEARCH_CHUNK], results, strict=True):
            for hit in result.hits:
                listing_id, score = UUID(hit["id"]), round(float(hit.get("_rankingScore", 1.0)), 4)
                scores.update({(m.id, listing_id): score for m in members if (m.id, listing_id) in eligible})
    return scores


async def demand_scores(
    conn: asyncpg.Connection,
    client: AsyncClient,
    settings: Settings,
    offers: list[Listing],
    subs: list[SubscriptionRow],
    eligible: set[Pair],
) -> dict[Pair, float]:
    """Which new offers the subscribed demands match, each scored as that demand's matches list scores it.

    The offers' own probes and vectors run once for the batch and say which demands each offer can reach; then each
    reachable demand's probes run once, limited to the new offers that reach it."""
    started = time.perf_counter()
    offer_vectors = await matches.own_vectors(conn, settings, offers)
    reached: dict[UUID, list[UUID]] = {}
    for offer, found in zip(offers, await matches.reached_many(client, settings, offers, offer_vectors), strict=True):
        for demand_id in found:
            reached.setdefault(UUID(demand_id), []).append(offer.id)
    reached_at = time.perf_counter()
    # The offers' own searches can leave out a demand whose own probes would find one of them. When they reach most
    # subscribed demands (a burst), leaving out the rest saves little: every one is asked, and none is missed.
    every = len(reached) >= REACH_ALL_SHARE * len({sub.demand_id for sub in subs})
    subs_of: dict[UUID, list[SubscriptionRow]] = {}
    for sub in subs:
        if every or sub.demand_id in reached:
            subs_of.setdefault(sub.demand_id, []).append(sub)
    now = datetime.now(UTC)
    demands = [d for d in await listings.rows_by_id(conn, list(subs_of)) if listings.is_public(d, now)]
    if not demands:
        return {}
    vectors = await matches.own_vectors(conn, settings, demands)
    gathered = await matches.gather_many(conn, client, settings, demands, vectors, offers)
    log.debug(
        "%d offers reached %d demands: %.3f s since their own searches, %.3f s for the demands'",
        len(offers),
        len(demands),
        reached_at - started,
        time.perf_counter() - reached_at,
    )
    scores: dict[Pair, float] = {}
    for demand, (candidates, found) in zip(demands, gathered, strict=True):
        for item in matches.rank(listings.public_json(demand), candidates, found):
            if item.score < ALERT_MIN_SCORE:
                continue
            offer_id = UUID(item.listing["id"])
            scores.update({(s.id, offer_id): item.score for s in subs_of[demand.id] if (s.id, offer_id) in eligible})
    return scores


async def notify_matches(
    conn: asyncpg.Connection, client: AsyncClient, settings: Settings, rows: list[Listing]
) -> list[NotificationRow]:
    """Check newly searchable listings against every subscription that may hear of them; one notification per match."""
    started = time.perf_counter()
    eligible = set(await repo.eligible_pairs(conn, [r.id for r in rows]))
    if not eligible:
        return []
    subs = await repo.subscriptions_by_id(conn, list({sub_id for sub_id, _ in eligible}))
    offers = [r for r in rows if r.kind == "offer"]
    read_at = time.perf_counter()
    async with engine.unavailable_as_503():
        scores = await plain_scores(client, settings, rows, [s for s in subs if s.demand_id is None], eligible)
        plain_at = time.perf_counter()
        if offers:
            demand_subs = [s for s in subs if s.demand_id is not None]
            scores |= await demand_scores(conn, client, settings, offers, demand_subs, eligible)
    scored_at = time.perf_counter()
    created = []
    for row in rows:
        mine = {sub_id: score for (sub_id, listing_id), score in scores.items() if listing_id == row.id}
        created += await repo.insert_notifications(conn, row.id, row.version, mine)
    # Every notification, webhook or not: the webhook sender skips those without one, mail tells their member.
    for note in created:
        await outbox.emit(conn, note.id, NotificationCreated(id=note.id, subscription_id=note.subscription_id))
    log.debug(
        "%d listings matched against %d subscriptions: read %.3f s, queries %.3f s, demands %.3f s, written %.3f s",
        len(rows),
        len(subs),
        read_at - started,
        plain_at - read_at,
        scored_at - plain_at,
        time.perf_counter() - scored_at,
    )
    return created


async def on_listings_indexed(
    conn: asyncpg.Connection, client: AsyncClient, settings: Settings, indexed: dict[UUID, int]
) -> None:
    """React to listings' changes reaching the index (id -> version): keep demands' own subscriptions in step, and
    notify subscribers of the listings now public."""
    await repo.lock_subscriptions_of(conn, list(indexed))
    rows = await listings.rows_by_id(conn, sorted(indexed))
    for row in rows:
        if row.kind == "demand":
            await repo.sync_demand_subscription(conn, row.id)
    now = datetime.now(UTC)
    # A later change of a listing has its own event: act on the state the index holds, not an older one.
    current = [r for r in rows if r.version == indexed[r.id] and listings.is_public(r, now)]
    if not current:
        return
    created = await notify_matches(conn, client, settings, current)
    if created:
        log.info("%d listings matched %d subscriptions", len(current), len(created))
