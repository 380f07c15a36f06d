"""Rules for offers and demands: who may write, read and move them, and what every write records."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from msgspec import UNSET

from exchange.kernel import audit, auth, outbox
from exchange.kernel.auth import Principal
from exchange.kernel.db import NotifiedCache
from exchange.kernel.errors import Conflict, Forbidden, NotFound, field_conflict, field_error, param_error
from exchange.kernel.events import ListingChanged
from exchange.kernel.http import check_if_match, next_cursor, page_body, page_of
from exchange.kernel.schemas import Money, Page
from exchange.kernel.taxonomy import region_code
from listings import repo, rules
from listings.quality import Quality, QualityInput, score
from listings.repo import ListingRow
from listings.schemas import Contact, DemandOut, LicenceTerms, OfferOut

# The stored public JSON is rendered as a listing reads before its last 14 days; the flag is set at read when they
# have begun. The key cannot occur anywhere else in the body: a quote inside a JSON string is always escaped.
NOT_SOON = b'"expiring_soon":false'
SOON = b'"expiring_soon":true'
# The channel every change to a listings row is named on at commit (migration 0007).
CHANGE_CHANNEL = "listing_changed"

OUT_TYPES = {"offer": OfferOut, "demand": DemandOut}
# Organization kinds that may own each kind of listing.
OWNER_KINDS = {"offer": frozenset({"institute", "enterprise", "broker"}), "demand": frozenset({"enterprise", "broker"})}


def now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def _money(amount: int | None, currency: str | None) -> Money | None:
    return None if amount is None else Money(amount=amount, currency=currency or "VND")


def api_values(row: ListingRow) -> dict[str, Any]:
    """A row's editable content under its API field names."""
    values: dict[str, Any] = {
        "title": row.title,
        "description": row.description,
        "language": row.language,
        "sector": row.sector,
        "keywords": row.keywords,
        "strategic_groups": row.strategic_groups,
        "region": row.region,
        "contact": msgspec.convert(row.contact, Contact) if row.contact else None,
        "external_id": row.external_id,
    }
    if row.kind == "offer":
        values.update(
            summary=row.summary,
            trl=row.trl,
            ip_status=row.ip_status,
            patent_numbers=row.patent_numbers,
            transfer_modes=row.transfer_modes,
            price=_money(row.price_amount, row.price_currency),
            price_type=row.price_type,
            confidential_details=row.confidential_details,
            licence_terms=msgspec.convert(row.licence_terms, LicenceTerms) if row.licence_terms else None,
        )
    else:
        values.update(
            trl_min=row.trl_min,
            budget_max=_money(row.budget_amount, row.budget_currency),
            preferred_transfer_modes=row.transfer_modes,
            deadline=row.deadline,
        )
    return values


def to_columns(values: dict[str, Any]) -> dict[str, Any]:
    """API field names and values to column names and values."""
    columns: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("price", "budget_max"):
            prefix = "price" if name == "price" else "budget"
            columns[f"{prefix}_amount"] = value.amount if value else None
            columns[f"{prefix}_currency"] = value.currency if value else None
        elif name == "preferred_transfer_modes":
            columns["transfer_modes"] = value
        elif name in ("contact", "licence_terms"):
            columns[name] = msgspec.to_builtins(value) if value else None
        else:
            columns[name] = value
    return columns


def quality_of(kind: str, values: dict[str, Any]) -> Quality:
    """Score a listing's content."""
    return score(
        QualityInput(
            kind=kind,
            title=values["title"],
            description=values["description"],
            summary=values.get("summary"),
            keywords=values.get("keywords") or (),
            trl=values.get("trl"),
            trl_min=values.get("trl_min"),
            ip_status=values.get("ip_status"),
            patent_numbers=values.get("patent_numbers") or (),
            transfer_modes=values.get("transfer_modes") or values.get("preferred_transfer_modes") or (),
            has_price=(values.get("price") or values.get("budget_max")) is not None,
            has_deadline=values.get("deadline") is not None,
            has_contact=values.get("contact") is not None,
        )
    )


def normalized(values: dict[str, Any]) -> dict[str, Any]:
    """Map a former or named region to its current code; trim list items, dropping blanks and repeats, keeping order."""
    if "region" in values:
        values["region"] = region_code(values["region"], "region")
    for name in ("keywords", "strategic_groups", "transfer_modes", "preferred_transfer_modes", "patent_numbers"):
        if isinstance(values.get(name), list):
            values[name] = list(dict.fromkeys(v for v in (item.strip() for item in values[name]) if v))
    return values


def check_licence_terms(values: dict[str, Any]) -> None:
    """Only non-exclusive terms can be express: an exclusive licence is negotiated in a deal."""
    terms = values.get("licence_terms")
    if terms is not None and terms.exclusive:
        raise field_error(
            "licence_terms.exclusive", "express licences are non-exclusive; negotiate exclusivity in a deal"
        )


def sees_private(viewer: Principal | None, row: ListingRow) -> bool:
    """The owner's members and operators see contact, confidential details and moderation notes.

    A party whose interest the owner accepted sees contact and confidential details too (row.disclosed). When the
    offer's NDA is required, interests accepts only a party that accepted its current version, so nothing is disclosed
    before that; a later version does not take back what was disclosed.
    """
    return viewer is not None and (viewer.is_operator or viewer.org_id == row.owner_org_id)


def to_out(row: ListingRow, viewer: Principal | None, at: datetime | None = None) -> OfferOut | DemandOut:
    """A listing as this viewer may see it."""
    values = api_values(row)
    at = at or now()
    private = sees_private(viewer, row)
    if not (private or row.disclosed):
        values["contact"] = UNSET
        values.pop("confidential_details", None)
    if not private:
        values["external_id"] = UNSET
    if row.kind == "offer":
        values["licence_terms_sha256"] = rules.licence_terms_sha256(values["licence_terms"])
    return OUT_TYPES[row.kind](
        id=row.id,
        kind=row.kind,
        owner_org_id=row.owner_org_id,
        status=rules.effective_status(row.status, row.expires_at, at),
        expiring_soon=rules.is_expiring_soon(row.status, row.expires_at, at),
        quality=Quality(score=row.quality_score, hints=row.quality_hints),
        created_at=row.created_at,
        updated_at=row.updated_at,
        submitted_at=row.submitted_at,
        published_at=row.published_at,
        expires_at=row.expires_at,
        version=row.version,
        rejection_reason=row.rejection_reason if private else UNSET,
        **values,
    )


class Rendered(msgspec.Struct, frozen=True):
    """A listing's JSON as one caller sees it now, with its version.

    unchanged: every response of this version to this caller had these bytes, so If-None-Match may be answered 304.
    """

    body: bytes
    version: int
    unchanged: bool = False


class Kept(msgspec.Struct, frozen=True):
    """A public listing as a process keeps it for anonymous reads: its stored JSON and what decides how it reads now."""

    kind: str
    body: bytes
    version: int
    expires_at: datetime | None
    updated_at: datetime


def _as_public(body: bytes, version: int, expires_at: datetime | None, updated_at: datetime, at: datetime) -> Rendered:
    soon = rules.is_expiring_soon("published", expires_at, at)
    # Time moves the public view one way only (published, expiring soon, expired): when it reads as it did when this
    # version was written, it read so all along, and a copy of this version the caller holds is this one.
    return Rendered(
        stored_body(body, soon), version, unchanged=soon == rules.is_expiring_soon("published", expires_at, updated_at)
    )


def render_public(row: ListingRow) -> bytes:
    """The public JSON of a published listing, as it reads before its last 14 days (stored beside the row)."""
    out = msgspec.structs.replace(to_out(row, None), status="published", expiring_soon=False)
    return msgspec.json.encode(out)


def stored_body(body: bytes, soon: bool) -> bytes:
    """A stored public JSON as it reads now."""
    return body.replace(NOT_SOON, SOON, 1) if soon else body


async def emit_change(conn: asyncpg.Connection, row: ListingRow) -> ListingRow:
    """Record the change in the outbox (for the search index) and in the change feed, and store the public JSON of a
    published listing, all in the writing transaction."""
    await outbox.emit(conn, row.id, ListingChanged(id=row.id, kind=row.kind, status=row.status, version=row.version))
    await repo.insert_change(conn, row)
    if row.status == "published":
        await repo.set_public_body(conn, row.id, render_public(row))
    return row


async def create(conn: asyncpg.Connection, principal: Principal | None, kind: str, data: msgspec.Struct) -> ListingRow:
    """An editor of an organization of the right kind creates a draft."""
    principal = require_creator(principal, kind)
    columns = content_columns(kind, data, principal.org_province)
    await check_external_id(conn, principal.org_id, columns.get("external_id"))
    row = await repo.insert(conn, kind, principal.org_id, principal.member_id, columns)
    return await emit_change(conn, row)


def require_creator(principal: Principal | None, kind: str) -> Principal:
    """The caller, if an editor of an organization that may own listings of this kind."""
    principal = auth.require(principal)
    if principal.org_id is None or principal.org_kind not in OWNER_KINDS[kind]:
        allowed = ", ".join(sorted(OWNER_KINDS[kind]))
        raise Forbidden(f"only members of an organization of kind {allowed} may create {kind}s")
    auth.require_member_of(principal, principal.org_id, "editor")
    return principal


async def check_external_id(conn: asyncpg.Connection, org_id: UUID, external_id: str | None) -> None:
    """An external id names one listing of its organization: a second one is a 409 naming the field."""
    if external_id is not None and await repo.external_ids_taken(conn, org_id, [external_id]):
        raise field_conflict("external_id", f"another listing of this organization has external_id {external_id!r}")


def content_columns(kind: str, data: msgspec.Struct, default_region: str) -> dict[str, Any]:
    """The columns of a new listing's content, completed, normalised and scored."""
    values = msgspec.structs.asdict(data)
    values["language"] = values["language"] or rules.guess_language(f"{data.title} {data.description}")
    values["region"] = values["region"] or default_region
    values = normalized(values)
    check_licence_terms(values)
    quality = quality_of(kind, values)
    return to_columns(values) | {"quality_score": quality.score, "quality_hints": quality.hints}


async def get(
    conn: asyncpg.Connection, principal: Principal | None, kind: str, listing_id: UUID, *, for_update: bool = False
) -> ListingRow:
    """A listing the caller may see: published ones for anyone, others for the owner and operators."""
    row = await repo.get(
        conn, kind, listing_id, for_update=for_update, viewer_org_id=principal.org_id if principal else None
    )
    if row is None or not (rules.is_public(row.status, row.expires_at, now()) or sees_private(principal, row)):
        raise NotFound(f"no such {kind}")
    return row


async def cached(cache: NotifiedCache | None, kind: str, listing_id: UUID) -> Rendered | None:
    """A listing as an anonymous caller sees it, from this process's copy; None when there is no copy to trust."""
    if cache is None or not await cache.up_to_date():
        return None
    kept: Kept | None = cache.entries.get(str(listing_id))
    if kept is None or kept.kind != kind:
        return None
    at = now()
    if not rules.is_public("published", kept.expires_at, at):
        raise NotFound(f"no such {kind}")
    return _as_public(kept.body, kept.version, kept.expires_at, kept.updated_at, at)


async def read(
    conn: asyncpg.Connection,
    principal: Principal | None,
    kind: str,
    listing_id: UUID,
    cache: NotifiedCache | None = None,
) -> Rendered:
    """A listing as the caller may see it, rendered: the stored public JSON when that is what the caller sees (and a
    copy of it kept in the cache for anonymous reads)."""
    if principal is None or not principal.is_operator:
        org_id = principal.org_id if principal else None
        epoch = cache.epoch if cache is not None else 0
        view = await repo.stored_view(conn, kind, listing_id, org_id)
        if view is None:
            raise NotFound(f"no such {kind}")
        if not (view.disclosed or (org_id is not None and org_id == view.owner_org_id)):
            at = now()
            if not rules.is_public(view.status, view.expires_at, at):
                raise NotFound(f"no such {kind}")
            if view.public_body is not None:
                if cache is not None:
                    kept = Kept(kind, view.public_body, view.version, view.expires_at, view.updated_at)
                    cache.keep(str(listing_id), kept, epoch)
                return _as_public(view.public_body, view.version, view.expires_at, view.updated_at, at)
    row = await get(conn, principal, kind, listing_id)
    return Rendered(msgspec.json.encode(to_out(row, principal)), row.version)


async def _owned(
    conn: asyncpg.Connection, principal: Principal | None, kind: str, listing_id: UUID, if_match: str | None
) -> ListingRow:
    """Lock a listing the caller may edit (an editor or owner of its organization)."""
    principal = auth.require(principal)
    row = await get(conn, principal, kind, listing_id, for_update=True)
    auth.require_member_of(principal, row.owner_org_id, "editor")
    check_if_match(if_match, row.version)
    return row


async def update(
    conn: asyncpg.Connection,
    principal: Principal | None,
    kind: str,
    listing_id: UUID,
    data: msgspec.Struct,
    if_match: str | None,
) -> ListingRow:
    """Edit content; a substantive edit of a published listing sends it back to review."""
    row = await _owned(conn, principal, kind, listing_id, if_match)
    given = normalized({k: v for k, v in msgspec.structs.asdict(data).items() if v is not UNSET})
    check_licence_terms(given)
    current = api_values(row)
    changed = {k for k, v in given.items() if msgspec.to_builtins(v) != msgspec.to_builtins(current[k])}
    if not changed:
        return row
    if "external_id" in changed:
        await check_external_id(conn, row.owner_org_id, given["external_id"])
    status = rules.status_after_edit(rules.effective_status(row.status, row.expires_at, now()), changed)
    merged = current | given
    quality = quality_of(kind, merged)
    columns = to_columns({k: given[k] for k in changed}) | {
        "quality_score": quality.score,
        "quality_hints": quality.hints,
    }
    return await emit_change(conn, await repo.update_content(conn, listing_id, columns, status))


async def act(
    conn: asyncpg.Connection,
    principal: Principal | None,
    kind: str,
    listing_id: UUID,
    action: str,
    if_match: str | None,
    *,
    ttl_days: int,
    reason: str | None = None,
    request_id: str | None = None,
) -> ListingRow:
    """Move a listing through its lifecycle: owners submit, withdraw and renew; reviewers approve and reject."""
    moderating = action in ("approve", "reject")
    if moderating:
        auth.require_operator(principal, "reviewer")
        row = await get(conn, principal, kind, listing_id, for_update=True)
        check_if_match(if_match, row.version)
    else:
        row = await _owned(conn, principal, kind, listing_id, if_match)
    current = rules.effective_status(row.status, row.expires_at, now())
    target = rules.next_status(current, action)
    if action == "approve" and await repo.org_status(conn, row.owner_org_id) != "verified":
        raise Conflict("the owner's organization is not verified, so its listings cannot be approved")
    moved = await repo.move(conn, listing_id, target, ttl_days=ttl_days, reason=reason)
    if moderating:
        await audit.record(conn, principal, action, kind, listing_id, reason, request_id)
    return await emit_change(conn, moved)


async def list_page(
    conn: asyncpg.Connection,
    principal: Principal | None,
    kind: str,
    *,
    mine: bool,
    status: str | None,
    sector: str | None,
    region: str | None,
    language: str | None,
    expires_within_days: int | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> Page[OfferOut | DemandOut]:
    """Published listings for anyone; with mine, every listing of the caller's organization; operators filtering by
    status or expiry see every organization's (pending_review is the review queue: oldest submission first)."""
    owner = None
    filtered = status is not None or expires_within_days is not None
    if mine:
        principal = auth.require(principal)
        if principal.org_id is None:
            raise Forbidden("mine=true lists an organization's own listings; operators belong to none")
        owner = principal.org_id
    elif filtered and not (principal is not None and principal.is_operator):
        raise param_error("mine", "status and expires_within_days filter one's own listings: add mine=true")
    queue = not mine and status == "pending_review"
    rows = await repo.list_page(
        conn,
        kind,
        owner_org_id=owner,
        statuses=[status] if status else None,
        public_only=not (mine or filtered),
        sector=sector,
        region=region_code(region, "region", param_error) if region is not None else None,
        language=language,
        expires_before=now() + timedelta(days=expires_within_days) if expires_within_days else None,
        after=after,
        limit=limit + 1,
        queue=queue,
    )
    column = "submitted_at" if queue else "created_at"
    return page_of(rows, limit, lambda r: to_out(r, principal), column)


class KeptPage(msgspec.Struct, frozen=True):
    """A page of public listings as a process keeps it for anonymous reads, and the moment it stops reading so."""

    body: bytes
    until: datetime


async def cached_page(cache: NotifiedCache | None, key: str) -> bytes | None:
    """A page of public listings as an anonymous caller sees it, from this process's copy; None without one to trust."""
    if cache is None or not await cache.up_to_date():
        return None
    page: KeptPage | None = cache.snapshot(key)
    return page.body if page is not None and now() < page.until else None


async def stored_page(
    conn: asyncpg.Connection,
    principal: Principal | None,
    kind: str,
    *,
    sector: str | None,
    region: str | None,
    language: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
    cache: NotifiedCache | None = None,
    key: str | None = None,
) -> bytes | None:
    """A page of public listings as JSON from their stored public JSON (kept under key for anonymous reads); None when
    any of them must be rendered for this caller now (not stored yet, or its owner's member or an operator asks)."""
    if principal is not None and principal.is_operator:
        return None
    epoch = cache.epoch if cache is not None else 0
    items = await repo.stored_page(
        conn,
        kind,
        sector=sector,
        region=region_code(region, "region", param_error) if region is not None else None,
        language=language,
        after=after,
        limit=limit + 1,
        soon_within=rules.EXPIRING_SOON,
    )
    own = principal.org_id if principal else None
    if any(i.public_body is None or (own is not None and i.owner_org_id == own) for i in items):
        return None
    body = page_body([stored_body(i.public_body, i.soon) for i in items[:limit]], next_cursor(items, limit))
    if cache is not None and key is not None and principal is None and not any(i.soon for i in items):
        # The page reads the same until the first of its rows (or the one after it, which decides the cursor) starts
        # its last 14 days; any change to any listing before then drops it.
        ends = [i.expires_at - rules.EXPIRING_SOON for i in items if i.expires_at is not None]
        cache.keep_snapshot(key, KeptPage(body, min(ends, default=datetime.max.replace(tzinfo=UTC))), epoch)
    return body


async def render_missing(conn: asyncpg.Connection, batch: int = 500) -> int:
    """Store the public JSON of published listings that have none (written before it was stored, or by hand)."""
    done = 0
    while True:
        async with conn.transaction():
            rows = await repo.unrendered(conn, batch)
            await repo.set_public_bodies(conn, [(row.id, render_public(row)) for row in rows])
        done += len(rows)
        if len(rows) < batch:
            return done


async def emit_changes(conn: asyncpg.Connection, rows: list[ListingRow]) -> int:
    """Record the changes of many listings written together (see emit_change); return how many."""
    for row in rows:
        await emit_change(conn, row)
    return len(rows)


async def expire_due(conn: asyncpg.Connection) -> int:
    """Store the expiry of every published listing past its date; return how many expired."""
    return await emit_changes(conn, await repo.expire_due(conn))


async def rows_by_id(conn: asyncpg.Connection, ids: list[UUID]) -> list[ListingRow]:
    """Current rows of these listings, whatever their status (for downstream consumers of listing events)."""
    return await repo.get_many(conn, ids)


async def public_rows_after(conn: asyncpg.Connection, kind: str, after: UUID | None, limit: int) -> list[ListingRow]:
    """One page of public listings in id order (for rebuilding a search index)."""
    return await repo.public_ids_page(conn, kind, after, limit)


def public_view(row: ListingRow) -> dict[str, Any]:
    """A listing as anyone may see it, as plain JSON values (for search documents and matching)."""
    return msgspec.to_builtins(to_out(row, None))


async def count_public(conn: asyncpg.Connection, kind: str) -> int:
    """How many listings of a kind are public now."""
    return await repo.count_public(conn, kind)
