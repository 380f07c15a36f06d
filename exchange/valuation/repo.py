"""SQL of valuation help: the agreed values of comparable deals."""

import asyncpg


async def comparable_values(
    conn: asyncpg.Connection, sector: str, transfer_mode: str, trl_from: int, trl_to: int, stages: list[str]
) -> list[int]:
    """The VND values of deals in these stages agreed in this transfer mode, on offers of this sector and TRL range."""
    rows = await conn.fetch(
        """SELECT d.value_amount FROM deals d JOIN listings l ON l.id = d.offer_id
           WHERE d.stage = ANY($5::text[]) AND d.transfer_mode = $2
             AND d.value_currency = 'VND' AND d.value_amount IS NOT NULL
             AND l.kind = 'offer' AND l.sector = $1 AND l.trl BETWEEN $3 AND $4""",
        sector,
        transfer_mode,
        trl_from,
        trl_to,
        stages,
    )
    return [r["value_amount"] for r in rows]
