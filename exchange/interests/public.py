"""What the shell may ask of interests: load the demo history."""

from typing import Any

import asyncpg

from exchange.interests import repo


async def insert_seeded(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """Load one demo interest (fixed id, past times), accepted ones with their disclosures; False if already there."""
    if not await repo.insert_seeded(conn, values):
        return False
    if values["status"] == "accepted":
        await repo.disclose_accepted(
            conn, values["id"], values["target_id"], values["from_org_id"], values["listing_id"], values["to_org_id"]
        )
    return True
