"""HTTP route of the audit trail."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import get
from litestar.params import QueryParameter

from exchange.audit import service
from exchange.audit.schemas import AuditEntryOut
from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, Cursor, Limit, decode_cursor, page_of, problems
from exchange.kernel.schemas import PLAIN_TEXT, Page

Actor = Annotated[UUID | None, QueryParameter(description="Only what this member (an operator's id) did")]
Subject = Annotated[
    str | None, QueryParameter(max_length=100, pattern=PLAIN_TEXT, description="Only entries about this subject id")
]
Action = Annotated[
    str | None, QueryParameter(max_length=50, pattern=PLAIN_TEXT, description="Only this action, e.g. approve")
]
Since = Annotated[datetime | None, QueryParameter(description="Only entries at or after this time (RFC 3339)")]


@get(
    "/v1/audit",
    tags=["operators"],
    security=BEARER,
    guards=KEYED,
    responses=problems(400, 401, 403),
    summary="Audit trail (admins)",
)
async def get_audit(
    conn: Conn,
    principal: Caller,
    actor: Actor = None,
    subject: Subject = None,
    action: Action = None,
    since: Since = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[AuditEntryOut]:
    """Every operator action and every key created or revoked, oldest first: actor, action, subject, reason, time and request id. Never a secret."""
    rows = await service.entries(
        conn,
        principal,
        actor=actor,
        subject=subject,
        action=action,
        since=since,
        after=decode_cursor(cursor),
        limit=limit + 1,
    )
    return page_of(rows, limit, service.entry_out)
