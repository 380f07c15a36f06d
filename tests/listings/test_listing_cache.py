"""The per-process copy of public listings: dropped on any change, and never trusted before a fence."""

import asyncio
import threading
import time

import asyncpg

from exchange.kernel import db
from exchange.kernel.db import CACHE_LEASE_SECONDS, NotifiedCache
from listings.service import CHANGE_CHANNEL, render_missing
from tests.support import bearer, offer_body, operator_key, published_offer, verified_org


def _commit_elsewhere(database_url: str, sql: str, *args: object) -> None:
    """Run and commit one statement from another thread and connection, while this event loop is held still."""

    async def run() -> None:
        other = await asyncpg.connect(database_url)
        try:
            await other.execute(sql, *args)
        finally:
            await other.close()

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    thread.join()


async def test_a_change_committed_before_the_fence_is_applied_by_it(database_url):
    cache = await NotifiedCache(database_url, "test_channel", 10).open()
    try:
        cache.keep("k", "kept", cache.epoch)
        assert cache.entries == {"k": "kept"}
        _commit_elsewhere(database_url, "SELECT pg_notify('test_channel', 'k')")
        # The commit is done, but this loop has not run since: without a fence the stale copy would still be used.
        assert cache.entries == {"k": "kept"}
        assert await cache.fence() is True
        assert cache.entries == {}
    finally:
        await cache.close()


async def test_a_copy_read_while_a_change_came_in_is_not_kept(database_url):
    cache = await NotifiedCache(database_url, "test_channel", 10).open()
    try:
        epoch = cache.epoch
        _commit_elsewhere(database_url, "SELECT pg_notify('test_channel', 'other')")
        assert await cache.fence() is True
        cache.keep("k", "read before the change", epoch)
        assert cache.entries == {}
        cache.keep("k", "read after it", cache.epoch)
        assert cache.entries == {"k": "read after it"}
    finally:
        await cache.close()


async def test_a_lost_listener_empties_the_cache_and_promises_nothing_meanwhile(database_url, conn):
    cache = await NotifiedCache(database_url, "test_channel", 10).open()
    try:
        cache.keep("k", "kept", cache.epoch)
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cache listener test_channel'"
        )
        first = await cache.fence()
        assert cache.entries == {}
        assert first is False or cache.epoch > 1
    finally:
        await cache.close()


async def test_a_fence_vouches_for_its_lease_and_a_read_after_it_fences_again(database_url, monkeypatch):
    monkeypatch.setattr(db, "CACHE_LEASE_SECONDS", 60.0)
    cache = await NotifiedCache(database_url, "test_channel", 10).open()
    try:
        assert cache.entries == {}
        cache.keep("k", "kept", cache.epoch)
        assert await cache.fence() is True
        _commit_elsewhere(database_url, "SELECT pg_notify('test_channel', 'k')")
        # Within the lease a read sends nothing: a change committed outside the service's requests is not seen yet.
        assert await cache.up_to_date() is True
        assert cache.entries == {"k": "kept"}
        # Once it has run out, the read fences again and the change is applied.
        monkeypatch.setattr(cache, "_fresh_until", 0.0)
        assert await cache.up_to_date() is True
        assert cache.entries == {}
    finally:
        await cache.close()


async def test_a_transaction_says_whether_it_changed_a_listing_anyone_can_read(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    draft = await client.post(
        "/v1/offers", json=offer_body(title="A draft nobody else can read"), headers=bearer(owner)
    )
    assert draft.status_code == 201, draft.text
    for listing_id, public in ((draft.json()["id"], False), (offer["id"], True)):
        async with conn.transaction():
            assert await db.public_listing_changed(conn) is False
            await conn.execute("UPDATE listings SET title = title || '.' WHERE id = $1::uuid", listing_id)
            assert await db.public_listing_changed(conn) is public
            await conn.execute("SELECT 1")
        assert await db.public_listing_changed(conn) is False


async def test_an_anonymous_read_after_a_withdraw_elsewhere_is_404_from_the_kept_copy(client, live, conn, database_url):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    path = f"/v1/offers/{offer['id']}"
    assert (await live.get(path)).status_code == 200
    assert (await live.get(path)).status_code == 200
    withdrawn = await client.post(f"{path}/withdraw", headers=bearer(owner))
    assert withdrawn.status_code == 200
    assert (await live.get(path)).status_code == 404
    # And a change made by hand in SQL, by another connection, drops the copy just the same, within the lease that a
    # request changing a listing waits out before it answers.
    renewed = await client.post(f"{path}/submit", headers=bearer(owner))
    assert renewed.status_code == 200
    assert (await client.post(f"{path}/approve", headers=bearer(operator))).status_code == 200
    assert (await live.get(path)).json()["status"] == "published"
    _commit_elsewhere(database_url, "UPDATE listings SET status = 'withdrawn' WHERE id = $1::uuid", offer["id"])
    await asyncio.sleep(CACHE_LEASE_SECONDS)
    assert (await live.get(path)).status_code == 404


async def test_the_channel_names_every_insert_and_update_of_a_listing(conn, database_url):
    heard: list[str] = []
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener(CHANGE_CHANNEL, lambda *args: heard.append(args[-1]))
        await conn.execute(
            "INSERT INTO organizations (id, name, kind, province, contact_email)"
            " VALUES ('00000000-0000-0000-0000-000000000001', 'Org', 'institute', '75', 'o@example.vn')"
        )
        listing_id = await conn.fetchval(
            "INSERT INTO listings (kind, owner_org_id, title, description, language, sector, region)"
            " VALUES ('offer', '00000000-0000-0000-0000-000000000001', 'T', 'D', 'en', '207', '75') RETURNING id"
        )
        await conn.execute("UPDATE listings SET title = 'T2' WHERE id = $1", listing_id)
        await listener.execute("SELECT 1")
        assert heard == [str(listing_id), str(listing_id)]
    finally:
        await listener.close()


async def test_a_kept_page_changes_with_any_listing_changed_elsewhere(client, live, conn, database_url):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    first = await published_offer(client, owner, operator, title="The first offer of the page")
    ids = [o["id"] for o in (await live.get("/v1/offers")).json()["items"]]
    assert ids == [first["id"]] and [o["id"] for o in (await live.get("/v1/offers")).json()["items"]] == ids
    second = await published_offer(client, owner, operator, title="The second offer of the page")
    assert [o["id"] for o in (await live.get("/v1/offers")).json()["items"]] == [second["id"], first["id"]]
    assert (await client.post(f"/v1/offers/{first['id']}/withdraw", headers=bearer(owner))).status_code == 200
    assert [o["id"] for o in (await live.get("/v1/offers")).json()["items"]] == [second["id"]]
    _commit_elsewhere(database_url, "UPDATE listings SET price_amount = 1 WHERE id = $1::uuid", second["id"])
    await asyncio.sleep(CACHE_LEASE_SECONDS)
    assert (await live.get("/v1/offers")).json()["items"][0]["price"]["amount"] == 1


async def test_a_page_with_a_listing_in_its_last_14_days_is_not_kept(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    cache = client.app.state.listing_cache
    assert (await client.get("/v1/offers")).json()["items"][0]["expiring_soon"] is False
    assert any(epoch == cache.epoch for epoch, _ in cache.snapshots.values())
    await conn.execute("UPDATE listings SET expires_at = now() + interval '10 days' WHERE id = $1::uuid", offer["id"])
    assert await render_missing(conn) == 1
    for _ in range(2):
        assert (await client.get("/v1/offers")).json()["items"][0]["expiring_soon"] is True
    # Both reads came after the change was applied (they fence), and neither kept the page it read.
    assert all(epoch != cache.epoch for epoch, _ in cache.snapshots.values())


async def test_reads_kept_coming_in_another_process_stop_seeing_a_listing_once_its_withdraw_has_answered(
    client, live, conn
):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    path = f"/v1/offers/{offer['id']}"
    reads: list[tuple[float, int]] = []
    stop = asyncio.Event()

    async def read_on() -> None:
        # One read after another: the other process keeps its lease, so most of these send it no round trip.
        while not stop.is_set():
            began = time.monotonic()
            reads.append((began, (await live.get(path)).status_code))

    reader = asyncio.create_task(read_on())
    await asyncio.sleep(0.3)
    withdrawn = await client.post(f"{path}/withdraw", headers=bearer(owner))
    answered = time.monotonic()
    assert withdrawn.status_code == 200
    await asyncio.sleep(0.3)
    stop.set()
    await reader
    before = [status for began, status in reads if began < answered]
    after = [status for began, status in reads if began > answered]
    assert before and set(before[:-3]) == {200}
    assert after and set(after) == {404}


async def test_a_request_that_withdraws_a_listing_waits_out_the_lease_before_it_answers(client, conn, monkeypatch):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    monkeypatch.setattr(db, "CACHE_LEASE_SECONDS", 0.5)
    began = time.monotonic()
    withdrawn = await client.post(f"/v1/offers/{offer['id']}/withdraw", headers=bearer(owner))
    assert withdrawn.status_code == 200
    # Every process whose last fence is younger than the lease has applied the withdraw by the time it answers.
    assert time.monotonic() - began >= 0.5
