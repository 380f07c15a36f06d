"""Who may read the audit trail, and how."""

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from exchange.audit import repo
from exchange.audit.repo import AuditRow
from exchange.audit.schemas import AuditEntryOut
from exchange.kernel import auth
from exchange.kernel.auth import Principal


def entry_out(row: AuditRow) -> AuditEntryOut:
    """An entry as the API shows it."""
    return msgspec.convert(msgspec.structs.asdict(row), AuditEntryOut)


async def entries(
    conn: asyncpg.Connection,
    principal: Principal | None,
    *,
    actor: UUID | None,
    subject: str | None,
    action: str | None,
    since: datetime | None,
    after: tuple | None,
    limit: int,
) -> list[AuditRow]:
    """The trail, oldest first, for admins."""
    auth.require_operator(principal, "admin")
    return await repo.entries(conn, actor=actor, subject=subject, action=action, since=since, after=after, limit=limit)
