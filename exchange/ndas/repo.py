"""SQL for offers' NDAs, their versions and their acceptances."""

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import keyset, keyset_args, row_to, rows_to


class NdaRow(msgspec.Struct, frozen=True, kw_only=True):
    """An offer's NDA with the text of its current version."""

    offer_id: UUID
    version: int
    text: str
    sha256: str
    required: bool
    revision: int
    created_at: datetime
    updated_at: datetime


class AcceptanceRow(msgspec.Struct, frozen=True, kw_only=True):
    """An nda_acceptances row."""

    id: UUID
    offer_id: UUID
    org_id: UUID
    member_id: UUID
    version: int
    sha256: str
    accepted_at: datetime


_CURRENT = """SELECT n.offer_id, n.version, v.text, v.sha256, n.required, n.revision, n.created_at, n.updated_at
FROM offer_ndas n JOIN nda_versions v ON v.offer_id = n.offer_id AND v.version = n.version
WHERE n.offer_id = $1"""


async def get(conn: asyncpg.Connection, offer_id: UUID, *, for_update: bool = False) -> NdaRow | None:
    """An offer's NDA at its current version, optionally locked."""
    row = await conn.fetchrow(_CURRENT + (" FOR UPDATE OF n" if for_update else ""), offer_id)
    return row_to(row, NdaRow) if row else None


async def insert(
    conn: asyncpg.Connection, offer_id: UUID, text: str, sha256: str, required: bool, member_id: UUID | None
) -> bool:
    """A first NDA (version 1) for an offer; False when the offer has one already."""
    created = await conn.fetchval(
        "INSERT INTO offer_ndas (offer_id, version, required, updated_by) VALUES ($1, 1, $2, $3)"
        " ON CONFLICT (offer_id) DO NOTHING RETURNING true",
        offer_id,
        required,
        member_id,
    )
    if created:
        await insert_version(conn, offer_id, 1, text, sha256, member_id)
    return bool(created)


async def insert_version(
    conn: asyncpg.Connection, offer_id: UUID, version: int, text: str, sha256: str, member_id: UUID | None
) -> None:
    """Keep a version's text for good."""
    await conn.execute(
        "INSERT INTO nda_versions (offer_id, version, text, sha256, created_by) VALUES ($1, $2, $3, $4, $5)",
        offer_id,
        version,
        text,
        sha256,
        member_id,
    )


async def update(conn: asyncpg.Connection, offer_id: UUID, version: int, required: bool, member_id: UUID) -> None:
    """Point the NDA at a version and a required flag; bump its revision."""
    await conn.execute(
        "UPDATE offer_ndas SET version = $2, required = $3, updated_by = $4, updated_at = now(), revision = revision + 1"
        " WHERE offer_id = $1",
        offer_id,
        version,
        required,
        member_id,
    )


async def insert_acceptance(
    conn: asyncpg.Connection, offer_id: UUID, version: int, org_id: UUID, member_id: UUID, sha256: str
) -> AcceptanceRow | None:
    """Record an acceptance; None when the organization accepted this version already."""
    row = await conn.fetchrow(
        "INSERT INTO nda_acceptances (offer_id, version, org_id, member_id, sha256) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (offer_id, org_id, version) DO NOTHING RETURNING *",
        offer_id,
        version,
        org_id,
        member_id,
        sha256,
    )
    return row_to(row, AcceptanceRow) if row else None


async def acceptance(conn: asyncpg.Connection, offer_id: UUID, org_id: UUID, version: int) -> AcceptanceRow | None:
    """An organization's acceptance of one version."""
    row = await conn.fetchrow(
        "SELECT * FROM nda_acceptances WHERE offer_id = $1 AND org_id = $2 AND version = $3", offer_id, org_id, version
    )
    return row_to(row, AcceptanceRow) if row else None


async def latest_acceptance(conn: asyncpg.Connection, offer_id: UUID, org_id: UUID) -> AcceptanceRow | None:
    """An organization's acceptance of the latest version it accepted."""
    row = await conn.fetchrow(
        "SELECT * FROM nda_acceptances WHERE offer_id = $1 AND org_id = $2 ORDER BY version DESC LIMIT 1",
        offer_id,
        org_id,
    )
    return row_to(row, AcceptanceRow) if row else None


async def acceptances_page(
    conn: asyncpg.Connection, offer_id: UUID, after: tuple[datetime, UUID] | None, limit: int
) -> list[AcceptanceRow]:
    """An offer's acceptances, newest first."""
    rows = await conn.fetch(
        f"SELECT * FROM nda_acceptances WHERE offer_id = $1 AND {keyset(2, column='accepted_at')}",
        offer_id,
        *keyset_args(after, limit),
    )
    return rows_to(rows, AcceptanceRow)
