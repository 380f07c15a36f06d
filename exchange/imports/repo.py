"""SQL of imports and their rows."""

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from exchange.imports.rows import Record
from exchange.kernel.auth import Principal
from exchange.kernel.db import keyset, keyset_args


class ImportRow(msgspec.Struct, frozen=True, kw_only=True):
    """An import as stored."""

    id: UUID
    org_id: UUID
    member_id: UUID
    key_id: UUID
    kind: str
    format: str
    dry_run: bool
    status: str
    total: int
    processed: int
    created: int
    valid: int
    skipped: int
    errors: list[dict[str, Any]]
    failure: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _row(record: asyncpg.Record) -> ImportRow:
    return msgspec.convert(dict(record), ImportRow)


async def insert(
    conn: asyncpg.Connection, principal: Principal, kind: str, fmt: str, dry_run: bool, total: int
) -> ImportRow:
    """A queued import of the caller's organization."""
    row = await conn.fetchrow(
        "INSERT INTO imports (org_id, member_id, key_id, kind, format, dry_run, total)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        principal.org_id,
        principal.member_id,
        principal.key_id,
        kind,
        fmt,
        dry_run,
        total,
    )
    return _row(row)


async def insert_records(conn: asyncpg.Connection, import_id: UUID, records: list[Record]) -> None:
    """Keep the file's records until the import has handled them."""
    await conn.execute(
        "INSERT INTO import_rows (import_id, row, record, external_id)"
        " SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[])",
        import_id,
        [r.row for r in records],
        [r.record for r in records],
        [r.external_id for r in records],
    )


async def get(conn: asyncpg.Connection, import_id: UUID, *, for_update: bool = False) -> ImportRow | None:
    """One import, optionally locked for the rest of the transaction."""
    row = await conn.fetchrow("SELECT * FROM imports WHERE id = $1" + (" FOR UPDATE" if for_update else ""), import_id)
    return _row(row) if row else None


async def list_page(
    conn: asyncpg.Connection, org_id: UUID | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[ImportRow]:
    """An organization's imports (every import when org_id is None), newest first."""
    rows = await conn.fetch(
        f"SELECT * FROM imports WHERE ($1::uuid IS NULL OR org_id = $1) AND {keyset(2)}",
        org_id,
        *keyset_args(after, limit),
    )
    return [_row(r) for r in rows]


async def records_after(conn: asyncpg.Connection, import_id: UUID, done: int, limit: int) -> list[Record]:
    """The next records to handle, after the `done` first ones, in file order."""
    rows = await conn.fetch(
        "SELECT row, record, external_id FROM import_rows WHERE import_id = $1 ORDER BY row OFFSET $2 LIMIT $3",
        import_id,
        done,
        limit,
    )
    return [msgspec.convert(dict(r), Record) for r in rows]


async def first_rows(conn: asyncpg.Connection, import_id: UUID, external_ids: list[str]) -> dict[str, int]:
    """For each external id, the first row of the file that carries it."""
    rows = await conn.fetch(
        "SELECT external_id, min(row) AS row FROM import_rows WHERE import_id = $1 AND external_id = ANY($2::text[])"
        " GROUP BY external_id",
        import_id,
        external_ids,
    )
    return {r["external_id"]: r["row"] for r in rows}


async def importer(conn: asyncpg.Connection, job: ImportRow) -> Principal | None:
    """The importing member as a caller, while the member, its key and its organization still stand."""
    row = await conn.fetchrow(
        "SELECT k.id AS key_id, m.id AS member_id, m.role, m.operator_role, m.org_id,"
        " o.kind AS org_kind, o.status AS org_status, o.province AS org_province"
        " FROM api_keys k JOIN members m ON m.id = k.member_id AND m.removed_at IS NULL"
        " JOIN organizations o ON o.id = m.org_id"
        " WHERE k.id = $1 AND k.revoked_at IS NULL AND m.id = $2 AND o.status <> 'suspended'",
        job.key_id,
        job.member_id,
    )
    return msgspec.convert(dict(row), Principal) if row else None


async def record_progress(
    conn: asyncpg.Connection,
    import_id: UUID,
    *,
    processed: int,
    created: int,
    valid: int,
    skipped: int,
    errors: list[dict[str, Any]],
    done: bool,
) -> None:
    """Add one chunk's outcome; the last chunk ends the import and drops its records."""
    await conn.execute(
        "UPDATE imports SET processed = processed + $2, created = created + $3, valid = valid + $4,"
        " skipped = skipped + $5, errors = errors || $6::jsonb, started_at = coalesce(started_at, now()),"
        " status = CASE WHEN $7 THEN 'done' ELSE 'running' END, finished_at = CASE WHEN $7 THEN now() END"
        " WHERE id = $1",
        import_id,
        processed,
        created,
        valid,
        skipped,
        errors,
        done,
    )
    if done:
        await conn.execute("DELETE FROM import_rows WHERE import_id = $1", import_id)


async def fail(conn: asyncpg.Connection, import_id: UUID, reason: str) -> None:
    """End an import that cannot go on, dropping its records."""
    await conn.execute(
        "UPDATE imports SET status = 'failed', failure = $2, finished_at = now() WHERE id = $1", import_id, reason
    )
    await conn.execute("DELETE FROM import_rows WHERE import_id = $1", import_id)
