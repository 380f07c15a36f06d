"""The outbox consumers on the real PostgreSQL: a commit wakes the consumers of its topic, and only those."""

import asyncio
import contextlib
import uuid

from exchange.kernel import db, outbox


class Ping(outbox.Event, frozen=True, kw_only=True, tag="test.ping"):
    """An event only the test's first consumer reads."""

    n: int


async def test_a_commit_wakes_the_consumers_of_its_topic_at_once_and_no_other(database_url, conn, monkeypatch):
    seen: dict[str, list[int]] = {"pings": [], "others": []}
    calls = {"pings": 0, "others": 0}

    def consumer(name: str, topic: str) -> outbox.Consumer:
        async def handle(_conn, rows):
            seen[name].extend(r.payload["n"] for r in rows)

        return outbox.Consumer(name, (topic,), handle, 10)

    pings, others = consumer("pings", "test.ping"), consumer("others", "test.other")
    original = outbox.drain

    async def counting_drain(pool, c):
        calls[c.name] += 1
        return await original(pool, c)

    monkeypatch.setattr(outbox, "drain", counting_drain)
    pool = await db.create_pool(database_url, min_size=1, max_size=3)
    # A poll far beyond the test: whatever is handled in time was woken by the notification.
    task = asyncio.create_task(outbox.run_consumers(pool, database_url, [pings, others], poll_seconds=60))
    try:
        await asyncio.sleep(0.5)
        before = dict(calls)
        async with conn.transaction():
            await outbox.emit(conn, uuid.uuid4(), Ping(n=7))
        for _ in range(100):
            if seen["pings"]:
                break
            await asyncio.sleep(0.02)
        assert seen["pings"] == [7]
        assert calls["pings"] > before["pings"] and calls["others"] == before["others"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pool.close()


async def test_readiness_tells_how_many_events_wait_for_a_consumer(client, conn):
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert {c["name"]: c["detail"] for c in ready.json()["checks"]}["background jobs"] == "no event waiting"
    async with conn.transaction():
        # No consumer reads this topic: it waits for ever.
        await outbox.emit(conn, uuid.uuid4(), Ping(n=1))
    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    detail = {c["name"]: c["detail"] for c in ready.json()["checks"]}["background jobs"]
    assert detail.startswith("1 event waiting, the oldest for ")


async def test_prune_deletes_only_events_processed_before_the_retention(conn):
    async with conn.transaction():
        for n in range(3):
            await outbox.emit(conn, uuid.uuid4(), Ping(n=n))
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM outbox ORDER BY id")]
    # One processed long ago, one processed just now, one still waiting for its consumer.
    await conn.execute("UPDATE outbox SET processed_at = now() - interval '8 days' WHERE id = $1", ids[0])
    await conn.execute("UPDATE outbox SET processed_at = now() WHERE id = $1", ids[1])
    assert await outbox.prune(conn, 7) == 1
    assert [r["id"] for r in await conn.fetch("SELECT id FROM outbox ORDER BY id")] == ids[1:]
    assert await outbox.prune(conn, 7) == 0
