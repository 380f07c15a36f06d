"""Unsubscribing with one click, never a mail twice for one event and member, and retries while SMTP is down."""

import asyncio
import time
import uuid

from exchange.mail import public as mail
from exchange.mail import repo, sender, tokens
from tests.mail.conftest import BASE_URL, MAIL_SECRET, deliver, mails_to, settle, unsubscribe_url
from tests.parties import Parties, parties
from tests.support import bearer

ONE_CLICK = {"content": b"List-Unsubscribe=One-Click", "headers": {"content-type": "application/x-www-form-urlencoded"}}


async def interest(client, p: Parties, key: str) -> dict:
    sent = await client.post(f"/v1/offers/{p.offer['id']}/interests", json={"message": "Hello"}, headers=bearer(key))
    assert sent.status_code == 201, sent.text
    return sent.json()


def path_of(url: str) -> str:
    assert url.startswith(BASE_URL)
    return url.removeprefix(BASE_URL)


async def test_one_click_turns_off_only_that_topic_and_a_get_changes_nothing(client, conn, pool, settings, stack):
    p = await parties(client, conn)
    await interest(client, p, p.buyer)
    await deliver(pool, settings)
    (received,) = mails_to(stack, p.seller_org["contact_email"], "interest_received")
    link = path_of(unsubscribe_url(received))

    # Mail scanners follow links: a GET shows a confirmation page and unsubscribes nobody.
    page = await client.get(link)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'method="post"' in page.text
    settings_now = (await client.get("/v1/me/notifications/settings", headers=bearer(p.seller))).json()
    assert "interests" in settings_now["topics"]

    done = await client.post(link, **ONE_CLICK)
    assert done.status_code == 200, done.text
    assert done.json() == {"unsubscribed": "interests", "topics": ["matches", "deals", "invoices", "expiry"]}
    after = (await client.get("/v1/me/notifications/settings", headers=bearer(p.seller))).json()
    assert after["topics"] == ["matches", "deals", "invoices", "expiry"] and after["email"] is True
    # Again is harmless; with no body at all, or a multipart form (RFC 8058 allows both forms), it works too.
    assert (await client.post(link)).status_code == 200
    boundary = "b0undary"
    multipart = f'--{boundary}\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--{boundary}--\r\n'
    again = await client.post(
        link, content=multipart.encode(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert again.status_code == 200, again.text
    # Any other kind of body is still refused as on every route.
    assert (await client.post(link, content=b"x", headers={"content-type": "text/plain"})).status_code == 415

    await interest(client, p, p.broker)
    await deliver(pool, settings)
    assert len(mails_to(stack, p.seller_org["contact_email"], "interest_received")) == 1
    # Other members of the organization and other topics are untouched.
    assert (await client.get("/v1/me/notifications/settings", headers=bearer(p.buyer))).json()["topics"][
        1
    ] == "interests"


async def test_a_tampered_expired_or_missing_token_is_refused_naming_token(client, conn, pool, settings, stack):
    p = await parties(client, conn)
    me = (await client.get("/v1/me", headers=bearer(p.seller))).json()["member"]["id"]
    key = tokens.secret_key(settings)
    good = tokens.sign(key, uuid.UUID(me), "deals")
    payload, mac = good.split(".")
    other = tokens.sign(key, uuid.UUID(me), "matches").split(".")[0]
    for token in (
        f"{payload}.{mac[:-2]}AA",
        f"{other}.{mac}",
        tokens.sign(key, uuid.UUID(me), "deals", now=time.time() - 61 * 86400),
        tokens.sign(b"another secret", uuid.UUID(me), "deals"),
        "nonsense",
        "",
    ):
        for method in (client.post, client.get):
            response = await method("/v1/unsubscribe", params={"token": token})
            assert 400 <= response.status_code < 500, (token, response.text)
            problem = response.json()
            assert any(e["field"] == "token" for e in problem["errors"]), problem
    assert (await client.post("/v1/unsubscribe")).json()["errors"][0]["field"] == "token"
    topics = (await client.get("/v1/me/notifications/settings", headers=bearer(p.seller))).json()["topics"]
    assert "deals" in topics and "matches" in topics
    assert (await client.post("/v1/unsubscribe", params={"token": good})).json()["unsubscribed"] == "deals"
    assert MAIL_SECRET  # the tokens above were signed with the tests' own MAIL_SECRET


async def test_the_same_event_handled_again_after_a_crash_or_by_a_second_instance_sends_one_mail(
    client, conn, pool, settings, stack
):
    p = await parties(client, conn)
    sent = await interest(client, p, p.buyer)
    await settle(pool, settings)
    # As if the consumer had crashed before recording the event as processed, or a second instance took it too.
    replayed = await conn.execute(
        "UPDATE outbox SET processed_at = NULL WHERE topic = 'interest.expressed' AND aggregate_id = $1",
        uuid.UUID(sent["id"]),
    )
    assert replayed == "UPDATE 1"
    await settle(pool, settings)
    assert await conn.fetchval("SELECT count(*) FROM mail_queue WHERE kind = 'interest_received'") == 1
    # Two senders (two app instances) at once: the lease lets only one take the message.
    counts = await asyncio.gather(sender.send_due(pool, settings), sender.send_due(pool, settings))
    assert sorted(counts) == [0, 1]
    await conn.execute("UPDATE outbox SET processed_at = NULL WHERE aggregate_id = $1", uuid.UUID(sent["id"]))
    assert await deliver(pool, settings) == 0
    assert len(mails_to(stack, p.seller_org["contact_email"], "interest_received")) == 1


async def test_while_smtp_is_down_mail_waits_and_is_sent_exactly_once_when_it_is_back(
    client, conn, pool, settings, stack
):
    p = await parties(client, conn)
    await interest(client, p, p.buyer)
    address = p.seller_org["contact_email"]
    stack.smtp.stop()
    try:
        assert await deliver(pool, settings) == 0
        row = await conn.fetchrow("SELECT status, attempts, last_error, available_at > now() AS later FROM mail_queue")
        assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"] and row["later"]
        # Not due yet: the next round leaves it alone.
        assert await sender.send_due(pool, settings) == 0
        await conn.execute("UPDATE mail_queue SET available_at = now()")
        assert await sender.send_due(pool, settings) == 0
        assert await conn.fetchval("SELECT attempts FROM mail_queue") == 2
    finally:
        stack.smtp.start()
    assert mails_to(stack, address, "interest_received") == []
    await conn.execute("UPDATE mail_queue SET available_at = now()")
    assert await sender.send_due(pool, settings) == 1
    assert await sender.send_due(pool, settings) == 0
    row = await conn.fetchrow("SELECT status, sent_at, leased_until FROM mail_queue")
    assert row["status"] == "sent" and row["sent_at"] is not None and row["leased_until"] is None
    assert len(mails_to(stack, address, "interest_received")) == 1


async def test_a_member_with_email_off_gets_nothing(client, conn, pool, settings, stack):
    p = await parties(client, conn)
    off = await client.put("/v1/me/notifications/settings", json={"email": False}, headers=bearer(p.seller))
    assert off.status_code == 200
    await interest(client, p, p.buyer)
    assert await deliver(pool, settings) == 0
    assert mails_to(stack, p.seller_org["contact_email"]) == []


async def test_a_sender_that_died_holding_a_message_leaves_it_to_the_next_once_its_lease_ends(
    client, conn, pool, settings, stack
):
    p = await parties(client, conn)
    await interest(client, p, p.buyer)
    await settle(pool, settings)
    async with pool.acquire() as c:
        assert await repo.claim(c, 300) is not None  # and then the process died
    assert await sender.send_due(pool, settings) == 0
    await conn.execute("UPDATE mail_queue SET leased_until = now() - interval '1 s'")
    assert await sender.send_due(pool, settings) == 1
    assert len(mails_to(stack, p.seller_org["contact_email"], "interest_received")) == 1


async def test_mail_older_than_30_days_is_pruned_once_sent(client, conn, pool, settings, stack):
    p = await parties(client, conn)
    await interest(client, p, p.buyer)
    await interest(client, p, p.broker)
    await settle(pool, settings)
    await conn.execute("UPDATE mail_queue SET created_at = now() - interval '31 days'")
    # Not sent yet: kept whatever its age.
    assert await mail.prune(pool) == 0
    assert await sender.send_due(pool, settings) == 2
    await conn.execute(
        "UPDATE mail_queue SET created_at = now() - interval '29 days' WHERE id = (SELECT min(id::text)::uuid FROM mail_queue)"
    )
    assert await mail.prune(pool) == 1
    assert await conn.fetchval("SELECT count(*) FROM mail_queue") == 1
