"""SQL reading the audit trail."""

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel.db import keyset, keyset_args, rows_to


class AuditRow(msgspec.Struct, frozen=True, kw_only=True):
    """An audit_log row."""

    id: UUID
    created_at: datetime
    actor_id: UUID | None
    actor_role: str | None
    action: str
    subject_type: str
    subject_id: str
    reason: str | None
    request_id: str | None


async def entries(
    conn: asyncpg.Connection,
    *,
    actor: UUID | None,
    subject: str | None,
    action: str | None,
    since: datetime | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[AuditRow]:
    """Entries oldest first, filtered, keyset-paginated on (created_at, id)."""
    rows = await conn.fetch(
        f"""SELECT * FROM audit_log
           WHERE ($1::uuid IS NULL OR actor_id = $1)
             AND ($2::text IS NULL OR subject_id = $2)
             AND ($3::text IS NULL OR action = $3)
             AND ($4::timestamptz IS NULL OR created_at >= $4)
             AND {keyset(5, newest_first=False)}""",
        actor,
        subject,
        action,
        since,
        *keyset_args(after, limit),
    )
    return rows_to(rows, AuditRow)
