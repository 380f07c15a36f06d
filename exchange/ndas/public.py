"""What other domains may ask of NDAs: whether one still stands in the way, and the acceptance a deal should show."""

from uuid import UUID

import asyncpg

from exchange.ndas import repo, service
from exchange.ndas.repo import AcceptanceRow

__all__ = ["AcceptanceRow", "insert_seeded", "latest_acceptance", "require_accepted"]

require_accepted = service.require_accepted


async def latest_acceptance(conn: asyncpg.Connection, offer_id: UUID, org_id: UUID) -> AcceptanceRow | None:
    """The organization's acceptance of the latest version of the offer's NDA it accepted, if any."""
    return await repo.latest_acceptance(conn, offer_id, org_id)


async def insert_seeded(
    conn: asyncpg.Connection, offer_id: UUID, text: str, required: bool, accepted_by: list[tuple[UUID, UUID]]
) -> bool:
    """Load a demo NDA (version 1) and its acceptances by (organization, member); False when the offer has one."""
    sha256 = service.sha256_of(text)
    if not await repo.insert(conn, offer_id, text, sha256, required, None):
        return False
    for org_id, member_id in accepted_by:
        await repo.insert_acceptance(conn, offer_id, 1, org_id, member_id, sha256)
    return True
