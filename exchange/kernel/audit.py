"""The audit trail's one writer: a row per operator action and per key created or revoked, in the action's transaction."""

from typing import Any

import asyncpg

from exchange.kernel.auth import Principal


async def record(
    conn: asyncpg.Connection,
    actor: Principal | None,
    action: str,
    subject_type: str,
    subject_id: Any,
    reason: str | None,
    request_id: str | None,
) -> None:
    """Append one entry: who (None for a registration or the command line), did what, to which subject, why, in which request."""
    await conn.execute(
        """INSERT INTO audit_log (actor_id, actor_role, action, subject_type, subject_id, reason, request_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        actor.member_id if actor else None,
        (actor.operator_role or actor.role) if actor else None,
        action,
        subject_type,
        str(subject_id),
        reason,
        request_id,
    )
