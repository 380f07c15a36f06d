"""Every kind of mail through the real local SMTP server: read back as .eml files, both parts, headers, language."""

import uuid
from datetime import UTC, datetime, timedelta

from exchange.auctions import public as auctions
from exchange.kernel import taxonomy
from exchange.mail import public as mail
from exchange.mail import service
from tests.mail.conftest import BASE_URL, deliver, mails_to, parts, unsubscribe_url
from tests.parties import Parties, open_deal, parties, propose
from tests.support import auction_body, bearer, offer_body, published_offer

CONFIDENTIAL = offer_body()["confidential_details"]
CONTACT = offer_body()["contact"]["email"]


def owner(org: dict) -> str:
    """An organization's owner's address (the contact email it registered with)."""
    return org["contact_email"]


async def set_language(client, key: str, language: str) -> None:
    response = await client.put("/v1/me/notifications/settings", json={"language": language}, headers=bearer(key))
    assert response.status_code == 200, response.text


def check_one(stack, address: str, kind: str, language: str) -> tuple[str, str, str]:
    """Exactly one message of this kind to this address, well formed; its subject, text and HTML."""
    found = mails_to(stack, address, kind)
    assert len(found) == 1, [m["Subject"] for m in mails_to(stack, address)]
    message = found[0]
    assert message["Content-Language"] == language
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_url(message).startswith(f"{BASE_URL}/v1/unsubscribe?token=")
    assert message["Message-ID"] and message["Date"] and message["From"]
    text, html = parts(message)
    assert unsubscribe_url(message) in text and unsubscribe_url(message) in html
    for body in (text, html):
        # What the recipient could not read through the API never goes into a mail.
        assert CONFIDENTIAL not in body and CONTACT not in body
    return str(message["Subject"]), text, html


async def test_interests_received_accepted_and_declined(client, conn, pool, settings, stack):
    p: Parties = await parties(client, conn)
    await set_language(client, p.seller, "en")
    sent = await client.post(
        f"/v1/offers/{p.offer['id']}/interests", json={"message": "We want to license it."}, headers=bearer(p.buyer)
    )
    assert sent.status_code == 201, sent.text
    await deliver(pool, settings)
    subject, text, html = check_one(stack, owner(p.seller_org), "interest_received", "en")
    assert p.buyer_org["name"] in subject and "interested in your offer" in subject
    assert "We want to license it." in text and f"{BASE_URL}/v1/interests/{sent.json()['id']}" in html

    accepted = await client.post(f"/v1/interests/{sent.json()['id']}/accept", headers=bearer(p.seller))
    assert accepted.status_code == 200, accepted.text
    await deliver(pool, settings)
    subject, text, _ = check_one(stack, owner(p.buyer_org), "interest_accepted", "vi")
    assert "đã được chấp nhận" in subject and p.offer["title"] in subject
    assert "Xin chào" in text

    asked = await client.post(
        f"/v1/offers/{p.offer['id']}/interests", json={"message": "For a client."}, headers=bearer(p.broker)
    )
    declined = await client.post(f"/v1/interests/{asked.json()['id']}/decline", headers=bearer(p.seller))
    assert declined.status_code == 200, declined.text
    await deliver(pool, settings)
    subject, _, _ = check_one(stack, owner(p.broker_org), "interest_declined", "vi")
    assert "bị từ chối" in subject
    # The broker's own interest reached the seller; nobody got anything twice.
    assert len(mails_to(stack, owner(p.seller_org), "interest_received")) == 2


async def test_deal_and_invoice_mails_reach_each_party(client, conn, pool, settings, stack):
    p: Parties = await parties(client, conn)
    await set_language(client, p.buyer, "en")
    deal = await propose(client, p.broker, await open_deal(client, p), 900_000_000)
    await deliver(pool, settings)
    for org, language in ((p.buyer_org, "en"), (p.seller_org, "vi"), (p.broker_org, "vi")):
        subject, text, _ = check_one(stack, owner(org), "deal_terms_proposed", language)
        assert deal["title"] in subject
        assert ("900,000,000 VND" if language == "en" else "900.000.000 VND") in text

    for key in (p.buyer, p.seller):
        confirmed = await client.post(
            f"/v1/deals/{deal['id']}/confirm", json={"terms_version": deal["terms_version"]}, headers=bearer(key)
        )
        assert confirmed.status_code == 200, confirmed.text
    await deliver(pool, settings)
    subject, _, _ = check_one(stack, owner(p.buyer_org), "deal_agreed", "en")
    assert subject == f"The deal “{deal['title']}” is agreed"
    check_one(stack, owner(p.seller_org), "deal_agreed", "vi")
    # Invoices go to the paying organizations only: the broker pays none.
    _, text, _ = check_one(stack, owner(p.buyer_org), "invoice_issued", "en")
    check_one(stack, owner(p.seller_org), "invoice_issued", "vi")
    assert mails_to(stack, owner(p.broker_org), "invoice_issued") == []

    invoices = (await client.get(f"/v1/invoices?deal_id={deal['id']}", headers=bearer(p.buyer))).json()["items"]
    (invoice,) = [i for i in invoices if i["party"] == "buyer"]
    assert f"{BASE_URL}/v1/invoices/{invoice['id']}" in text
    paid = await client.post(
        f"/v1/invoices/{invoice['id']}/pay", json={"payment_method": "pm_card_visa"}, headers=bearer(p.buyer)
    )
    assert paid.status_code == 200, paid.text
    await deliver(pool, settings)
    subject, _, _ = check_one(stack, owner(p.buyer_org), "invoice_paid", "en")
    assert "paid" in subject
    assert mails_to(stack, owner(p.seller_org), "invoice_paid") == []

    cancelled = await client.post(
        f"/v1/deals/{deal['id']}/cancel", json={"reason": "Budget cut"}, headers=bearer(p.buyer)
    )
    assert cancelled.status_code == 200, cancelled.text
    await deliver(pool, settings)
    _, text, _ = check_one(stack, owner(p.seller_org), "deal_cancelled", "vi")
    assert "Budget cut" in text
    subject, _, _ = check_one(stack, owner(p.buyer_org), "invoice_refunded", "en")
    assert "refunded" in subject
    assert mails_to(stack, owner(p.seller_org), "invoice_refunded") == []


async def subscribe(client, key: str, query: str = "MBR") -> None:
    response = await client.post("/v1/subscriptions", json={"kind": "offers", "query": query}, headers=bearer(key))
    assert response.status_code == 201, response.text


async def test_matches_go_at_once_or_in_the_daily_digest_or_not_at_all(client, conn, pool, settings, stack):
    p: Parties = await parties(client, conn)
    await subscribe(client, p.buyer)
    await subscribe(client, p.broker)
    daily = await client.put("/v1/me/notifications/settings", json={"digest": "daily"}, headers=bearer(p.broker))
    assert daily.status_code == 200
    offer = await published_offer(client, p.seller, p.operator, title="Màng lọc MBR cho nước thải thuỷ sản")
    await deliver(pool, settings)
    subject, text, html = check_one(stack, owner(p.buyer_org), "match", "vi")
    # The link is the listing's public page; sector and province are named, in the member's language.
    assert offer["title"] in subject and f"{BASE_URL}/offers/{offer['id']}" in html
    assert taxonomy.sector_name("207", "vi") in text and taxonomy.province_name("75", "vi") in text
    assert mails_to(stack, owner(p.broker_org)) == []

    async with pool.acquire() as c:
        # Today's matches wait for tomorrow's digest.
        assert await service.build_digests(c, settings) == 0
        assert await service.build_digests(c, settings, datetime.now(UTC) + timedelta(days=1)) == 1
        assert await service.build_digests(c, settings, datetime.now(UTC) + timedelta(days=1)) == 0
    await deliver(pool, settings)
    subject, text, html = check_one(stack, owner(p.broker_org), "digest", "vi")
    assert "(1)" in subject and offer["title"] in text and f"{BASE_URL}/offers/{offer['id']}" in html
    assert f"({taxonomy.sector_name('207', 'vi')}, {taxonomy.province_name('75', 'vi')})" in text

    off = await client.put("/v1/me/notifications/settings", json={"digest": "off"}, headers=bearer(p.buyer))
    assert off.status_code == 200
    await published_offer(client, p.seller, p.operator, title="Bể MBR thế hệ mới")
    await deliver(pool, settings)
    assert len(mails_to(stack, owner(p.buyer_org), "match")) == 1


async def test_listings_expiring_within_14_days_warn_their_owners_once_per_expiry_date(
    client, conn, pool, settings, stack
):
    p: Parties = await parties(client, conn)
    await conn.execute("UPDATE listings SET expires_at = now() + interval '10 days' WHERE id = $1::uuid", p.offer["id"])
    await conn.execute(
        "UPDATE listings SET expires_at = now() + interval '30 days' WHERE id = $1::uuid", p.demand["id"]
    )
    assert await mail.warn_expiring(pool, settings) == 1
    assert await mail.warn_expiring(pool, settings) == 0
    await deliver(pool, settings)
    subject, text, _ = check_one(stack, owner(p.seller_org), "listing_expiring", "vi")
    assert p.offer["title"] in subject and f"{BASE_URL}/v1/offers/{p.offer['id']}/renew" in text
    assert mails_to(stack, owner(p.buyer_org), "listing_expiring") == []
    # Renewed, it expires on another date: that one is warned about in its turn.
    await conn.execute("UPDATE listings SET expires_at = now() + interval '12 days' WHERE id = $1::uuid", p.offer["id"])
    assert await mail.warn_expiring(pool, settings) == 1


async def test_the_seller_and_the_bidders_hear_that_an_auction_closed_or_was_cancelled(
    client, conn, pool, settings, stack
):
    p: Parties = await parties(client, conn)
    await set_language(client, p.buyer, "en")
    created = await client.post("/v1/auctions", json=auction_body(p.offer["id"]), headers=bearer(p.seller))
    assert created.status_code == 201, created.text
    auction = created.json()
    placed = await client.post(
        f"/v1/auctions/{auction['id']}/bids",
        json={"amount": {"amount": 1_200_000_000, "currency": "VND"}},
        headers=bearer(p.buyer),
    )
    assert placed.status_code == 201, placed.text
    await conn.execute(
        "UPDATE auctions SET starts_at = least(starts_at, clock_timestamp() - interval '1 hour'),"
        " ends_at = clock_timestamp() WHERE id = $1::uuid",
        auction["id"],
    )
    async with conn.transaction():
        assert await auctions.close_if_due(conn, uuid.UUID(auction["id"])) is not None
    await deliver(pool, settings)
    _, text, _ = check_one(stack, owner(p.buyer_org), "auction_closed", "en")
    assert f"{p.buyer_org['name']} won at 1,200,000,000 VND." in text
    _, text, _ = check_one(stack, owner(p.seller_org), "auction_closed", "vi")
    assert "1.200.000.000 VND" in text
    # The broker took no part in it.
    assert mails_to(stack, owner(p.broker_org)) == []

    other = await published_offer(client, p.seller, p.operator, title="Thiết bị lọc thứ hai")
    second = await client.post("/v1/auctions", json=auction_body(other["id"]), headers=bearer(p.seller))
    cancelled = await client.post(
        f"/v1/auctions/{second.json()['id']}/cancel", json={"reason": "Withdrawn"}, headers=bearer(p.seller)
    )
    assert cancelled.status_code == 200, cancelled.text
    await deliver(pool, settings)
    subject, text, _ = check_one(stack, owner(p.seller_org), "auction_cancelled", "vi")
    assert other["title"] in subject and "Withdrawn" in text
