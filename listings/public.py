"""What other domains may use of listings: the listing row, its public view, and the queries over public listings."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.auth import Principal
from exchange.kernel.db import NotifiedCache
from listings import repo, rules, service
from listings.repo import ListingRow, PublicEntry
from listings.schemas import DemandCreate, DemandOut, LicenceTerms, OfferCreate, OfferOut
from listings.service import Rendered

Listing = ListingRow
"""A listing as stored, every column included: never send it out as it is (see public_view)."""
PublicListing = OfferOut | DemandOut
"""A listing as anyone may see it: without contact, confidential details or moderation notes."""

CREATE_TYPES: dict[str, type[OfferCreate] | type[DemandCreate]] = {"offer": OfferCreate, "demand": DemandCreate}
"""The body of a new listing of each kind, as POST /v1/offers and /v1/demands take it."""
require_creator = service.require_creator


def is_public(row: Listing, at: datetime | None = None) -> bool:
    """Whether anyone may see this listing now: published and not past its expiry."""
    return rules.is_public(row.status, row.expires_at, at or service.now())


def public_view(row: Listing, at: datetime | None = None) -> PublicListing:
    """The listing as anyone may see it."""
    return service.to_out(row, None, at)


def public_json(row: Listing) -> dict[str, Any]:
    """The public view as plain JSON values (for search documents, matching and notifications)."""
    return msgspec.to_builtins(public_view(row))


async def visible(conn: asyncpg.Connection, principal: Principal | None, kind: str, listing_id: UUID) -> Listing:
    """A listing this caller may see (published for anyone, any status for its owner and operators), else 404."""
    return await service.get(conn, principal, kind, listing_id)


async def locked(conn: asyncpg.Connection, kind: str, listing_id: UUID) -> Listing | None:
    """A listing of a kind whatever its status, locked for the rest of the transaction: the caller decides what the
    viewer may learn of it (never send it out as it is)."""
    return await repo.get(conn, kind, listing_id, for_update=True)


def licence_terms(row: Listing) -> tuple[LicenceTerms, str] | None:
    """An offer's express licence terms as served, with their licence_terms_sha256; None when it has none."""
    if row.licence_terms is None:
        return None
    terms = msgspec.convert(row.licence_terms, LicenceTerms)
    sha256 = rules.licence_terms_sha256(terms)
    assert sha256 is not None
    return terms, sha256


async def rows_by_id(conn: asyncpg.Connection, ids: list[UUID]) -> list[Listing]:
    """Current rows of these listings, whatever their status (for consumers of listing events)."""
    return await repo.get_many(conn, ids)


async def public_rows_after(conn: asyncpg.Connection, kind: str, after: UUID | None, limit: int) -> list[Listing]:
    """One page of public listings of a kind in id order (for rebuilding a search index)."""
    return await repo.public_ids_page(conn, kind, after, limit)


async def count_public(conn: asyncpg.Connection, kind: str) -> int:
    """How many listings of a kind are public now."""
    return await repo.count_public(conn, kind)


async def expire_due(conn: asyncpg.Connection) -> int:
    """Store the expiry of every published listing past its date; return how many expired."""
    return await service.expire_due(conn)


async def insert_seeded(
    conn: asyncpg.Connection,
    kind: str,
    owner_org_id: UUID,
    item: dict[str, Any],
    default_region: str,
    lifecycle: dict[str, Any],
) -> bool:
    """Load one demo listing with its fixed id and lived lifecycle (id, status, times); False when it is there already.

    Only the item's keys that a new listing takes are read (and those that are null are left out)."""
    create_type = CREATE_TYPES[kind]
    data = msgspec.convert(
        {k: v for k, v in item.items() if k in create_type.__struct_fields__ and v is not None}, create_type
    )
    values = service.content_columns(kind, data, default_region) | lifecycle
    row = await repo.insert(conn, kind, owner_org_id, None, values)
    if row is None:
        return False
    await service.emit_change(conn, row)
    return True


async def suspend_owned(conn: asyncpg.Connection, org_id: UUID) -> int:
    """An organization was suspended: its published listings leave publication (and, through the outbox, search)."""
    return await service.emit_changes(conn, await repo.suspend_owned(conn, org_id))


async def reinstate_owned(conn: asyncpg.Connection, org_id: UUID) -> int:
    """An organization was reinstated: its suspended listings are published again unless they expired meanwhile."""
    return await service.emit_changes(conn, await repo.reinstate_owned(conn, org_id))


PublicRead = Rendered
"""A public listing's JSON as anyone sees it now (body), with its version."""
PublicSitemapEntry = PublicEntry
"""A public listing's kind, id and last change."""


async def kept_public(cache: NotifiedCache | None, kind: str, listing_id: UUID) -> PublicRead | None:
    """A public listing's JSON from this process's copy (the one GET /v1/offers/{id} serves); None when there is no copy
    to trust; 404 (NotFound) when the copy says it is no longer public."""
    return await service.cached(cache, kind, listing_id)


async def read_public(
    conn: asyncpg.Connection, kind: str, listing_id: UUID, cache: NotifiedCache | None = None
) -> PublicRead:
    """A public listing's JSON as an anonymous caller gets it (its stored public body, kept in the cache), else 404."""
    return await service.read(conn, None, kind, listing_id, cache)


def decode_public(kind: str, body: bytes) -> PublicListing:
    """The public view back from its JSON."""
    return msgspec.json.decode(body, type=service.OUT_TYPES[kind])


async def public_entries(conn: asyncpg.Connection, offset: int, limit: int) -> list[PublicSitemapEntry]:
    """Public listings of both kinds in id order, from an offset."""
    return await repo.public_entries(conn, offset, limit)


async def create_draft(conn: asyncpg.Connection, principal: Principal, kind: str, data: msgspec.Struct) -> Listing:
    """A new draft, exactly as POST /v1/offers or /v1/demands makes it (same rules, same change records)."""
    return await service.create(conn, principal, kind, data)


def check_content(kind: str, data: msgspec.Struct, default_region: str) -> None:
    """Raise what creating this listing would raise for its content, without writing anything."""
    service.content_columns(kind, data, default_region)


async def external_ids_taken(conn: asyncpg.Connection, org_id: UUID, external_ids: list[str]) -> set[str]:
    """Which of these external ids the organization's listings already carry."""
    return await repo.external_ids_taken(conn, org_id, external_ids)
