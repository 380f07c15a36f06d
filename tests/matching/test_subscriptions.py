"""Subscriptions against the real servers: who is told of which new listing, once, and signed webhooks with retries."""

import asyncio
import ipaddress
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from exchange.app import create_app
from exchange.kernel.settings import Settings
from matching import matches, subscriptions
from matching.notify import MAX_ATTEMPTS, NOTIFICATION_ID_HEADER, SIGNATURE_HEADER, post, verify
from tests.matching.waiting import settled, until
from tests.support import bearer, demand_body, offer_body, operator_key, published, verified_org

# Webhook deliveries retry with backoff: they get longer than the index waits.
DEADLINE_SECONDS = 30.0


async def notifications(client: Any, key: str, subscription_id: str) -> list[dict[str, Any]]:
    """Every notification of a subscription (one page is enough here)."""
    response = await client.get(f"/v1/subscriptions/{subscription_id}/notifications?limit=100", headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def subscribe(client: Any, key: str, **body: Any) -> dict[str, Any]:
    """Create a subscription and return it."""
    response = await client.post("/v1/subscriptions", json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    return response.json()


async def parties(client: Any, conn: asyncpg.Connection) -> tuple[str, str, str]:
    """An operator, a verified institute (offers) and a verified enterprise (the subscriber); their keys."""
    operator = await operator_key(conn)
    _, institute = await verified_org(client, operator, "institute")
    _, enterprise = await verified_org(client, operator, "enterprise")
    return operator, institute, enterprise


BATTERY_OFFER = {
    "title": "Vật liệu cathode LFP cho pin lithium tái chế",
    "summary": "Quy trình tổng hợp cathode LiFePO4 từ pin thải.",
    "description": "Quy trình thu hồi lithium và tổng hợp lại cathode LiFePO4 từ pin lithium thải, hiệu suất thu hồi 92%.",
    "sector": "205",
    "keywords": ["pin lithium", "cathode", "LFP"],
    "patent_numbers": [],
    "ip_status": "know_how",
}


# Shares only shrimp and seafood with the demand, nothing of its wastewater treatment.
COLD_STORAGE_OFFER = {
    "title": "Kho lạnh cấp đông nhanh IQF bảo quản hải sản",
    "summary": "Kho lạnh cấp đông nhanh IQF cho tôm và cá, công suất 2 tấn/giờ.",
    "description": "Kho lạnh cấp đông nhanh giữ chất lượng tôm và cá, tiết kiệm 20% điện năng so với kho truyền thống.",
    "keywords": ["kho lạnh", "cấp đông", "hải sản"],
}


async def test_query_and_filters_notify_once_for_a_matching_offer_only(client, conn):
    operator, institute, enterprise = await parties(client, conn)
    sub = await subscribe(
        client,
        enterprise,
        kind="offers",
        query="xử lý nước thải",
        filters={"sector": "207", "trl_min": 6, "region": "Đồng Nai", "transfer_mode": ["license"]},
    )
    assert sub["filters"]["region"] == "75" and sub["active"] and sub["demand_id"] is None
    assert "webhook_secret" not in sub

    draft = await client.post("/v1/offers", json=offer_body(), headers=bearer(institute))
    assert draft.status_code == 201
    other = await published(client, "offer", institute, operator, offer_body(**BATTERY_OFFER))
    # Matches the query but not the filters: TRL below the minimum.
    immature = await published(
        client, "offer", institute, operator, offer_body(title="Xử lý nước thải chăn nuôi quy mô nhỏ", trl=4)
    )
    # Its own organization's offer matches everything but is never announced to it.
    own = await published(
        client, "offer", enterprise, operator, offer_body(title="Hệ thống xử lý nước thải của chính mình")
    )
    match = await published(client, "offer", institute, operator, offer_body())

    for listing in (draft.json(), other, immature, own, match):
        await settled(conn, listing["id"])
    items = await notifications(client, enterprise, sub["id"])
    assert [n["listing_id"] for n in items] == [match["id"]]
    note = items[0]
    assert note["listing"]["id"] == match["id"] and note["listing"]["title"] == match["title"]
    assert "contact" not in note["listing"] and "confidential_details" not in note["listing"]
    assert 0 < note["score"] <= 1 and note["delivery_status"] == "none"

    # Published again after a withdrawal, and the same event handled twice: still one notification.
    withdrawn = await client.post(f"/v1/offers/{match['id']}/withdraw", headers=bearer(institute))
    assert withdrawn.status_code == 200
    await settled(conn, match["id"])
    gone = await notifications(client, enterprise, sub["id"])
    assert gone[0]["listing"] is None
    again = await client.post(f"/v1/offers/{match['id']}/submit", headers=bearer(institute))
    assert again.status_code == 200
    approved = await client.post(f"/v1/offers/{match['id']}/approve", headers=bearer(operator))
    assert approved.status_code == 200
    await settled(conn, match["id"])
    await conn.execute(
        "INSERT INTO outbox (topic, aggregate_id, payload) SELECT topic, aggregate_id, payload FROM outbox"
        " WHERE topic = 'listing.indexed' AND aggregate_id = $1::uuid ORDER BY id DESC LIMIT 1",
        match["id"],
    )
    await settled(conn, match["id"])
    items = await notifications(client, enterprise, sub["id"])
    assert len(items) == 1 and items[0]["id"] == note["id"]
    assert items[0]["listing"]["id"] == match["id"]
    assert await conn.fetchval("SELECT count(*) FROM notifications") == 1


async def test_a_subscription_hears_only_of_listings_published_after_it(client, conn):
    operator, institute, enterprise = await parties(client, conn)
    earlier = await published(client, "offer", institute, operator, offer_body())
    await settled(conn, earlier["id"])
    sub = await subscribe(client, enterprise, kind="offers", query="nước thải")
    # An edit of the older offer that keeps it published is not news to the newer subscription.
    edited = await client.patch(
        f"/v1/offers/{earlier['id']}", json={"price": {"amount": 800_000_000}}, headers=bearer(institute)
    )
    assert edited.status_code == 200 and edited.json()["status"] == "published"
    later = await published(
        client, "offer", institute, operator, offer_body(title="Xử lý nước thải thủy sản bằng MBBR")
    )
    await settled(conn, earlier["id"])
    await settled(conn, later["id"])
    assert [n["listing_id"] for n in await notifications(client, enterprise, sub["id"])] == [later["id"]]


async def test_a_published_demand_subscribes_its_owner_to_matching_offers(client, conn):
    operator, institute, enterprise = await parties(client, conn)
    demand = await published(client, "demand", enterprise, operator, demand_body())
    await settled(conn, demand["id"])

    async def own_subscriptions() -> list[dict[str, Any]]:
        response = await client.get("/v1/subscriptions", headers=bearer(enterprise))
        assert response.status_code == 200, response.text
        return response.json()["items"]

    subs = await own_subscriptions()
    assert len(subs) == 1
    auto = subs[0]
    assert (auto["demand_id"], auto["kind"], auto["active"]) == (demand["id"], "offers", True)

    unrelated = await published(client, "offer", institute, operator, offer_body(**BATTERY_OFFER))
    offer = await published(client, "offer", institute, operator, offer_body())
    await settled(conn, unrelated["id"])
    await settled(conn, offer["id"])
    items = await notifications(client, enterprise, auto["id"])
    assert [n["listing_id"] for n in items] == [offer["id"]]
    assert 0 < items[0]["score"] <= 1

    withdrawn = await client.post(f"/v1/demands/{demand['id']}/withdraw", headers=bearer(enterprise))
    assert withdrawn.status_code == 200
    await settled(conn, demand["id"])
    assert (await own_subscriptions())[0]["active"] is False
    # While the demand is withdrawn, its subscription hears of nothing.
    meanwhile = await published(
        client, "offer", institute, operator, offer_body(title="Xử lý nước thải chế biến thủy sản MBR")
    )
    await settled(conn, meanwhile["id"])
    assert len(await notifications(client, enterprise, auto["id"])) == 1

    await publish_again(client, "demand", demand["id"], enterprise, operator)
    await settled(conn, demand["id"])
    subs = await own_subscriptions()
    assert [(s["id"], s["active"]) for s in subs] == [(auto["id"], True)]


async def test_a_demand_is_alerted_only_to_clear_matches(client, conn):
    operator, institute, enterprise = await parties(client, conn)
    demand = await published(client, "demand", enterprise, operator, demand_body())
    await settled(conn, demand["id"])
    weak = await published(client, "offer", institute, operator, offer_body(**COLD_STORAGE_OFFER))
    await settled(conn, weak["id"])

    response = await client.get(f"/v1/demands/{demand['id']}/matches", headers=bearer(enterprise))
    assert response.status_code == 200, response.text
    scores = {item["listing"]["id"]: item["score"] for item in response.json()["items"]}
    assert 0 < scores[weak["id"]] < subscriptions.ALERT_MIN_SCORE
    [auto] = (await client.get("/v1/subscriptions", headers=bearer(enterprise))).json()["items"]
    assert await notifications(client, enterprise, auto["id"]) == []


async def publish_again(client: Any, kind: str, listing_id: str, owner: str, operator: str) -> None:
    """Submit and approve a listing that was published before."""
    for path, key in ((f"/v1/{kind}s/{listing_id}/submit", owner), (f"/v1/{kind}s/{listing_id}/approve", operator)):
        response = await client.post(path, headers=bearer(key))
        assert response.status_code == 200, response.text


class Receiver:
    """A minimal HTTP/1.1 webhook receiver on loopback that answers with scripted status codes."""

    def __init__(self, statuses: list[int], then: int = 200) -> None:
        self.statuses = statuses
        self.then = then
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> "Receiver":
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}/hooks/techmart"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((headers, body))
            status = self.statuses.pop(0) if self.statuses else self.then
            writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode())
            await writer.drain()
        finally:
            writer.close()


async def delivery(conn: asyncpg.Connection, subscription_id: str) -> asyncpg.Record | None:
    """The stored delivery state of a subscription's only notification."""
    return await conn.fetchrow(
        "SELECT id, delivery_status, delivery_attempts, last_error FROM notifications WHERE subscription_id = $1::uuid",
        subscription_id,
    )


async def test_webhook_is_signed_and_retried_with_the_same_notification_id(client, conn):
    operator, institute, enterprise = await parties(client, conn)
    async with Receiver([500]) as receiver:
        sub = await subscribe(client, enterprise, kind="offers", query="nước thải", webhook_url=receiver.url)
        secret = sub["webhook_secret"]
        assert secret.startswith("whsec_") and len(secret) > 40
        shown = await client.get(f"/v1/subscriptions/{sub['id']}", headers=bearer(enterprise))
        assert "webhook_secret" not in shown.json() and shown.json()["webhook_url"] == receiver.url

        offer = await published(client, "offer", institute, operator, offer_body())
        row = await until(
            lambda: delivery(conn, sub["id"]),
            lambda r: r is not None and r["delivery_status"] == "delivered",
            "webhook delivery",
            DEADLINE_SECONDS,
        )
        assert (row["delivery_attempts"], row["last_error"]) == (2, None)

    assert len(receiver.requests) == 2
    ids = set()
    for headers, body in receiver.requests:
        assert headers["content-type"] == "application/json"
        assert verify(secret, headers[SIGNATURE_HEADER.lower()], body)
        assert not verify("whsec_" + "x" * 43, headers[SIGNATURE_HEADER.lower()], body)
        assert not verify(secret, headers[SIGNATURE_HEADER.lower()], body + b" ")
        sent = msgspec.json.decode(body)
        assert sent["id"] == headers[NOTIFICATION_ID_HEADER.lower()]
        assert (sent["type"], sent["subscription_id"], sent["listing"]["id"]) == (
            "listing.matched",
            sub["id"],
            offer["id"],
        )
        assert 0 < sent["score"] <= 1 and "contact" not in sent["listing"]
        ids.add(sent["id"])
    assert ids == {str(row["id"])}
    items = await notifications(client, enterprise, sub["id"])
    assert [(n["id"], n["delivery_status"]) for n in items] == [(str(row["id"]), "delivered")]


async def test_a_webhook_goes_to_the_checked_address_without_looking_the_name_up_again():
    async with Receiver([]) as receiver, httpx.AsyncClient(trust_env=False) as http:
        port = receiver.url.split(":")[2].split("/")[0]
        # A .invalid name never resolves: the request can only arrive if it was sent to the address given.
        url = f"http://hooks.example.invalid:{port}/hooks/techmart"
        error = await post(http, url, "whsec_test", b'{"ok":true}', uuid.uuid4(), ipaddress.ip_address("127.0.0.1"))
    assert error is None
    [(headers, body)] = receiver.requests
    assert headers["host"] == f"hooks.example.invalid:{port}" and body == b'{"ok":true}'
    assert verify("whsec_test", headers[SIGNATURE_HEADER.lower()], body)


async def test_webhook_gives_up_after_the_last_attempt(client, conn):
    operator, institute, enterprise = await parties(client, conn)
    async with Receiver([], then=503) as receiver:
        sub = await subscribe(client, enterprise, kind="offers", query="nước thải", webhook_url=receiver.url)
        await published(client, "offer", institute, operator, offer_body())
        await until(
            lambda: conn.fetchval("SELECT max(attempts) FROM outbox WHERE topic = 'notification.created'"),
            lambda n: n is not None and n >= 1,
            "a first failed delivery",
            DEADLINE_SECONDS,
        )
        # Skip the backoff of the attempts in between: the next one is the last.
        await conn.execute(
            "UPDATE outbox SET attempts = $1, available_at = now() WHERE topic = 'notification.created' AND processed_at IS NULL",
            MAX_ATTEMPTS - 1,
        )
        row = await until(
            lambda: delivery(conn, sub["id"]), lambda r: r["delivery_status"] == "failed", "giving up", DEADLINE_SECONDS
        )
    assert (row["delivery_attempts"], row["last_error"]) == (MAX_ATTEMPTS, "HTTP 503")
    assert (
        await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'notification.created' AND processed_at IS NULL")
        == 0
    )


async def test_subscriptions_are_their_owners_alone(client, conn):
    operator, _, enterprise = await parties(client, conn)
    _, stranger = await verified_org(client, operator, "broker")
    sub = await subscribe(client, enterprise, kind="demands", filters={"sector": "207"})
    path = f"/v1/subscriptions/{sub['id']}"

    for method, url in (
        ("post", "/v1/subscriptions"),
        ("get", "/v1/subscriptions"),
        ("get", path),
        ("delete", path),
        ("get", f"{path}/notifications"),
    ):
        response = await getattr(client, method)(url)
        assert response.status_code == 401, (method, url)
    for method, url in (("get", path), ("delete", path), ("get", f"{path}/notifications")):
        response = await getattr(client, method)(url, headers=bearer(stranger))
        assert response.status_code == 404, (method, url)
    assert (await client.get("/v1/subscriptions", headers=bearer(stranger))).json()["items"] == []
    mine = (await client.get("/v1/subscriptions", headers=bearer(enterprise))).json()
    assert [s["id"] for s in mine["items"]] == [sub["id"]] and mine["next_cursor"] is None

    stale = await client.delete(path, headers={**bearer(enterprise), "If-Match": '"7"'})
    assert stale.status_code == 412
    assert (await client.delete(path, headers=bearer(enterprise))).status_code == 204
    assert (await client.get(path, headers=bearer(enterprise))).status_code == 404
    assert (await client.delete(path, headers=bearer(enterprise))).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "offers", "filters": {"region": "Atlantis"}}, "filters.region"),
        ({"kind": "offers", "filters": {"trl_min": 7, "trl_max": 3}}, "filters.trl_min"),
        ({"kind": "demands", "filters": {"ip_status": "know_how"}}, "filters.ip_status"),
        ({"kind": "offers", "filters": {"sector": "999"}}, "filters.sector"),
        ({"kind": "offers", "filters": {"colour": "red"}}, "filters.colour"),
        ({"kind": "offers", "webhook_url": "ftp://example.vn/hook"}, "webhook_url"),
        ({"kind": "listings"}, "kind"),
        ({"kind": "offers", "query": ""}, "query"),
    ],
)
async def test_bad_subscriptions_are_422_naming_the_field(client, conn, body, field):
    _, _, enterprise = await parties(client, conn)
    response = await client.post("/v1/subscriptions", json=body, headers=bearer(enterprise))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert await conn.fetchval("SELECT count(*) FROM subscriptions") == 0


async def test_subscription_pages_follow_the_cursor(client, conn):
    _, _, enterprise = await parties(client, conn)
    made = [await subscribe(client, enterprise, kind="offers", query=f"từ khóa {i}") for i in range(3)]
    first = (await client.get("/v1/subscriptions?limit=2", headers=bearer(enterprise))).json()
    second = (
        await client.get(f"/v1/subscriptions?limit=2&cursor={first['next_cursor']}", headers=bearer(enterprise))
    ).json()
    assert [s["id"] for s in first["items"] + second["items"]] == [s["id"] for s in reversed(made)]
    assert second["next_cursor"] is None


@pytest.fixture
async def production_client(settings: Settings) -> Any:
    """The service with production's webhook rules (the test session's own settings allow a local receiver)."""
    strict = msgspec.structs.replace(settings, allow_private_webhooks=False)
    async with AsyncTestClient(create_app(strict)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://93.184.216.34/hook", "https"),
        ("https://127.0.0.1:8443/hook", "public address"),
        ("https://localhost/hook", "public address"),
        ("https://10.1.2.3/hook", "public address"),
        ("https://192.168.1.20/hook", "public address"),
        ("https://169.254.169.254/latest/meta-data", "public address"),
        ("https://[::1]/hook", "public address"),
        ("https://[::ffff:172.16.0.9]/hook", "public address"),
        ("https://hooks.example.com:abc/hook", "not a valid URL"),
        ("https://hooks.example.com:99999/hook", "port outside"),
    ],
)
async def test_webhooks_to_private_addresses_or_plain_http_are_refused(production_client, conn, url, reason):
    _, _, enterprise = await parties(production_client, conn)
    response = await production_client.post(
        "/v1/subscriptions", json={"kind": "offers", "webhook_url": url}, headers=bearer(enterprise)
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == "webhook_url" and reason in error["message"]
    assert await conn.fetchval("SELECT count(*) FROM subscriptions") == 0


async def test_a_webhook_whose_address_turned_private_is_not_called(production_client, conn):
    operator, institute, enterprise = await parties(production_client, conn)
    async with Receiver([]) as receiver:
        sub = await subscribe(
            production_client, enterprise, kind="offers", query="nước thải", webhook_url="https://93.184.216.34/hook"
        )
        # What a host name re-pointed at an inside address after subscribing looks like at delivery time.
        await conn.execute("UPDATE subscriptions SET webhook_url = $1 WHERE id = $2::uuid", receiver.url, sub["id"])
        await published(production_client, "offer", institute, operator, offer_body())
        row = await until(
            lambda: delivery(conn, sub["id"]),
            lambda r: r is not None and r["delivery_status"] == "failed",
            "the refused delivery",
            DEADLINE_SECONDS,
        )
    assert row["last_error"].startswith("refused: the webhook URL") and receiver.requests == []


async def test_offers_matched_in_one_batch_alert_each_demand_once_with_its_matches_score(client, conn):
    operator, institute, _ = await parties(client, conn)
    enterprises = [(await verified_org(client, operator, "enterprise"))[1] for _ in range(3)]
    demands = [
        await published(client, "demand", enterprises[0], operator, demand_body()),
        await published(
            client,
            "demand",
            enterprises[1],
            operator,
            demand_body(title="Cần công nghệ xử lý nước thải chế biến thủy sản", language="vi"),
        ),
        await published(
            client,
            "demand",
            enterprises[2],
            operator,
            demand_body(
                title="Need LFP cathode recycling from spent lithium batteries",
                keywords=["lithium battery", "cathode", "recycling"],
                sector="205",
            ),
        ),
    ]
    for demand in demands:
        await settled(conn, demand["id"])
    # A query subscription beside the demands' own: the same batch serves both kinds.
    query_sub = await subscribe(client, enterprises[0], kind="offers", query="wastewater")
    # Submitted one by one, approved together: the matcher takes the new offers in as few batches as it can.
    bodies = [
        offer_body(),
        offer_body(title="Xử lý nước thải chế biến thủy sản bằng MBR"),
        offer_body(**BATTERY_OFFER),
        offer_body(**COLD_STORAGE_OFFER),
    ]
    drafts = []
    for body in bodies:
        created = await client.post("/v1/offers", json=body, headers=bearer(institute))
        assert created.status_code == 201, created.text
        assert (
            await client.post(f"/v1/offers/{created.json()['id']}/submit", headers=bearer(institute))
        ).status_code == 200
        drafts.append(created.json())
    approvals = await asyncio.gather(
        *(client.post(f"/v1/offers/{d['id']}/approve", headers=bearer(operator)) for d in drafts)
    )
    assert [a.status_code for a in approvals] == [200] * len(drafts)
    for draft in drafts:
        await settled(conn, draft["id"])
    offer_ids = {d["id"] for d in drafts}

    alerted = 0
    for demand, key in zip(demands, enterprises, strict=True):
        [auto] = [
            s for s in (await client.get("/v1/subscriptions", headers=bearer(key))).json()["items"] if s["demand_id"]
        ]
        notes = await notifications(client, key, auto["id"])
        listed = [n["listing_id"] for n in notes]
        assert len(listed) == len(set(listed)) and set(listed) <= offer_ids
        matched = await client.get(f"/v1/demands/{demand['id']}/matches?limit=50", headers=bearer(key))
        assert matched.status_code == 200, matched.text
        scores = {item["listing"]["id"]: item["score"] for item in matched.json()["items"]}
        # Told of exactly the new offers that reach the alert floor in its own matches list, at that very score.
        expected = {i: s for i, s in scores.items() if i in offer_ids and s >= subscriptions.ALERT_MIN_SCORE}
        assert {n["listing_id"]: n["score"] for n in notes} == expected
        alerted += len(notes)
    assert alerted >= 3
    told = {n["listing_id"] for n in await notifications(client, enterprises[0], query_sub["id"])}
    assert drafts[0]["id"] in told and drafts[2]["id"] not in told
    rows = await conn.fetchval(
        "SELECT count(*) - count(DISTINCT (subscription_id, listing_id)) FROM notifications WHERE listing_id = ANY($1::uuid[])",
        list(offer_ids),
    )
    assert rows == 0


async def test_offers_reaching_most_subscribed_demands_are_matched_against_every_one(client, conn, monkeypatch):
    operator, institute, _ = await parties(client, conn)
    enterprises = [(await verified_org(client, operator, "enterprise"))[1] for _ in range(3)]
    bodies = [
        demand_body(),
        demand_body(title="Cần công nghệ xử lý nước thải chế biến thủy sản", language="vi"),
        demand_body(title="Compact MBR unit for seafood processing wastewater", keywords=["MBR", "wastewater"]),
    ]
    demands = [await published(client, "demand", key, operator, b) for key, b in zip(enterprises, bodies, strict=True)]
    for demand in demands:
        await settled(conn, demand["id"])
    real = matches.reached_many

    async def two_of_three(*args: Any) -> list[set[str]]:
        # The offer's own searches, left to reach the first two demands at most: as when the third is beyond them.
        return [found & {demands[0]["id"], demands[1]["id"]} for found in await real(*args)]

    monkeypatch.setattr(matches, "reached_many", two_of_three)
    offer = await published(client, "offer", institute, operator, offer_body(title="Xử lý nước thải thủy sản bằng MBR"))
    await settled(conn, offer["id"])

    demand, key = demands[2], enterprises[2]
    [auto] = [s for s in (await client.get("/v1/subscriptions", headers=bearer(key))).json()["items"] if s["demand_id"]]
    listed = await client.get(f"/v1/demands/{demand['id']}/matches?limit=50", headers=bearer(key))
    assert listed.status_code == 200, listed.text
    [score] = [i["score"] for i in listed.json()["items"] if i["listing"]["id"] == offer["id"]]
    assert score >= subscriptions.ALERT_MIN_SCORE
    # Two of the three subscribed demands reached: the third is asked too, and told at its list's score.
    assert [(n["listing_id"], n["score"]) for n in await notifications(client, key, auto["id"])] == [
        (offer["id"], score)
    ]
