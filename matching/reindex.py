"""`exchange reindex`: rebuild both indexes from PostgreSQL, with a progress bar on a terminal."""

import sys
import time
from typing import TextIO

from exchange.kernel import db
from exchange.kernel.settings import Settings
from listings import public as listings
from matching import engine, indexer

BAR_WIDTH = 30


class Progress:
    """A one-line progress bar when writing to a terminal, a line per index otherwise."""

    def __init__(self, totals: dict[str, int], out: TextIO) -> None:
        self.totals, self.out, self.done = totals, out, dict.fromkeys(totals, 0)
        self.live = out.isatty()
        self.started = time.monotonic()

    def __call__(self, kind: str, count: int) -> None:
        self.done[kind] += count
        if self.live:
            total = max(self.totals[kind], 1)
            filled = BAR_WIDTH * min(self.done[kind], total) // total
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.out.write(f"\r{kind}s [{bar}] {self.done[kind]}/{self.totals[kind]}")
            if self.done[kind] >= self.totals[kind]:
                self.out.write("\n")
            self.out.flush()

    def summary(self, counts: dict[str, int]) -> str:
        elapsed = time.monotonic() - self.started
        listed = ", ".join(f"{n} {kind}s" for kind, n in counts.items())
        return f"reindexed {listed} in {elapsed:.1f} s"


async def main(settings: Settings, out: TextIO = sys.stderr) -> int:
    """Rebuild the indexes; print progress and a summary."""
    pool = await db.create_pool(settings.database_url, min_size=1, max_size=2)
    client = engine.open_client(settings)
    try:
        async with pool.acquire() as conn:
            totals = {kind: await listings.count_public(conn, kind) for kind in engine.KINDS}
        progress = Progress(totals, out)
        counts = await indexer.reindex(pool, client, settings, progress)
        print(progress.summary(counts), file=out)
        return 0
    finally:
        await client.aclose()
        await pool.close()
