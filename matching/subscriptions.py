"""Subscriptions: who wants to hear of which new listings, matching a newly searchable listing, and notifications."""

import asyncio
import logging
import secrets
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
# Queries per multi-search request when checking one listing against plain subscriptions.
MULTI_SEARCH_CHUNK = 100
# Demands checked against one new offer concurrently (each is one multi-search).
DEMAND_CHECKS_AT_ONCE = 4
# A demand's alert fires only for a clear match: its matches list goes lower, but an alert is an interruption. On
# bench/matching_eval this floor keeps 79 of 87 relevant pairs and lets through 52 of 2,727 irrelevant ones.
ALERT_MIN_SCORE = 0.25
LISTING_KIND = {"offers": "offer", "demands": "demand"}


class NotificationCreated(outbox.Event, frozen=True, kw_only=True, tag="notification.created"):
    """A notification for a subscription with a webhook: the delivery consumer POSTs it."""

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


async def plain_scores(
    client: AsyncClient, settings: Settings, row: Listing, subs: list[SubscriptionRow]
) -> dict[UUID, float]:
    """Which query-and-filter subscriptions this one listing satisfies in the search index, with its ranking score."""
    uid = engine.index_uid(settings, row.kind)
    # Subscriptions asking the same thing share one query.
    groups: dict[tuple[str | None, bytes], list[SubscriptionRow]] = {}
    for sub in subs:
        groups.setdefault((sub.query, msgspec.json.encode(sub.filters, order="deterministic")), []).append(sub)
    queries, owners = [], []
    for (query, _), members in groups.items():
        filters = msgspec.convert(members[0].filters, SearchFilters)
        clauses = [*search.filter_clauses(row.kind, filters), f"id = {search.quoted(str(row.id))}"]
        # Every word of an alert's query must be there (up to typos and synonyms): an alert should be precise.
        queries.append(
            SearchParams(
                index_uid=uid,
                query=query,
                filter=clauses,
                limit=1,
                matching_strategy="all",
                attributes_to_retrieve=["id"],
                show_ranking_score=True,
            )
        )
        owners.append([m.id for m in members])
    scores: dict[UUID, float] = {}
    for start in range(0, len(queries), MULTI_SEARCH_CHUNK):
        results = await client.multi_search(queries[start : start + MULTI_SEARCH_CHUNK])
        for ids, result in zip(owners[start : start + MULTI_SEARCH_CHUNK], results, strict=True):
            if result.hits:
                score = round(float(result.hits[0].get("_rankingScore", 1.0)), 4)
                scores.update(dict.fromkeys(ids, score))
    return scores


async def demand_scores(
    conn: asyncpg.Connection, client: AsyncClient, settings: Settings, offer: Listing, subs: list[SubscriptionRow]
) -> dict[UUID, float]:
    """Which public demands' own subscriptions this offer matches, scored as the demand's matches are."""
    # Only the demands the offer's own probes find can match it: checking every subscribed demand would not scale.
    [offer_vector] = await matches.own_vectors(conn, settings, [offer])
    reachable = await matches.counterpart_ids(client, settings, offer, offer_vector)
    now = datetime.now(UTC)
    demands = {
        r.id: r for r in await listings.rows_by_id(conn, [s.demand_id for s in subs if s.demand_id in reachable])
    }
    checks = [(s.id, d) for s in subs if (d := demands.get(s.demand_id)) and listings.is_public(d, now)]
    vectors = await matches.own_vectors(conn, settings, [d for _, d in checks])
    gate = asyncio.Semaphore(DEMAND_CHECKS_AT_ONCE)

    async def check(demand: Listing, vector: list[float] | None) -> float | None:
        async with gate:
            item = await matches.match_one(client, settings, demand, vector, offer.id)
        return item.score if item is not None and item.score >= ALERT_MIN_SCORE else None

    results = await asyncio.gather(*(check(d, v) for (_, d), v in zip(checks, vectors, strict=True)))
    return {sub_id: score for (sub_id, _), score in zip(checks, results, strict=True) if score is not None}


async def notify_matches(
    conn: asyncpg.Connection, client: AsyncClient, settings: Settings, row: Listing
) -> list[NotificationRow]:
    """Check a newly searchable listing against every subscription that may hear of it; record one notification per match."""
    if row.published_at is None:
        return []
    subs = await repo.candidate_subscriptions(conn, f"{row.kind}s", row.id, row.owner_org_id, row.published_at)
    if not subs:
        return []
    async with engine.unavailable_as_503():
        scores = await plain_scores(client, settings, row, [s for s in subs if s.demand_id is None])
        if row.kind == "offer":
            scores |= await demand_scores(conn, client, settings, row, [s for s in subs if s.demand_id is not None])
    created = await repo.insert_notifications(conn, row.id, row.version, scores)
    for note in created:
        if note.delivery_status == "pending":
            await outbox.emit(conn, note.id, NotificationCreated(id=note.id, subscription_id=note.subscription_id))
    return created


async def on_listing_indexed(
    conn: asyncpg.Connection, client: AsyncClient, settings: Settings, listing_id: UUID, version: int
) -> None:
    """React to a listing's change reaching the index: keep a demand's own subscription in step, and notify subscribers."""
    await repo.lock_subscriptions_of(conn, listing_id)
    rows = await listings.rows_by_id(conn, [listing_id])
    if not rows:
        return
    row = rows[0]
    if row.kind == "demand":
        await repo.sync_demand_subscription(conn, row.id)
    # A later change of the listing has its own event: act on the state the index holds, not an older one.
    if row.version != version or not listings.is_public(row, datetime.now(UTC)):
        return
    created = await notify_matches(conn, client, settings, row)
    if created:
        log.info("%s %s matched %d subscriptions", row.kind, row.id, len(created))
