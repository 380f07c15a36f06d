"""GET /metrics against the real servers: who may read it, and that each figure moves with what the service did."""

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest
from meilisearch_python_sdk.errors import MeilisearchCommunicationError
from prometheus_client.parser import text_string_to_metric_families

from matching import engine
from tests.matching.test_subscriptions import DEADLINE_SECONDS, Receiver, delivery, parties, subscribe
from tests.matching.waiting import until
from tests.support import bearer, exchange_serve, offer_body, operator_key, published, register

OFFER_ROUTE = "/v1/offers/{listing_id}"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-")


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(scrape: dict, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return scrape.get((name, frozenset(labels.items())), 0.0)


async def scrape(client, key: str) -> dict:
    response = await client.get("/metrics", headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


async def test_metrics_are_for_operators_only(client, conn):
    _, member = await register(client)
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=bearer(member))).status_code == 403
    await scrape(client, await operator_key(conn))


async def test_requests_are_counted_by_route_template_and_status_with_latencies(client, conn):
    operator = await operator_key(conn)
    labels = {"method": "GET", "path": OFFER_ROUTE, "status_code": "404", "app_name": "exchange"}
    before = await scrape(client, operator)
    for _ in range(3):
        assert (await client.get(f"/v1/offers/{uuid.uuid4()}")).status_code == 404
    after = await scrape(client, operator)
    assert (
        value(after, "exchange_http_requests_total", **labels) - value(before, "exchange_http_requests_total", **labels)
        == 3
    )
    count = "exchange_http_request_duration_seconds_count"
    assert value(after, count, **labels) - value(before, count, **labels) == 3
    # The raw paths never become labels: one series per route.
    paths = {dict(labels_).get("path", "") for name, labels_ in after if name == "exchange_http_requests_total"}
    assert not [p for p in paths if UUID.search(p)]


async def test_the_database_pool_is_shown(client, conn, settings):
    operator = await operator_key(conn)
    before = await scrape(client, operator)
    assert (await client.get("/v1/taxonomy")).status_code == 200
    after = await scrape(client, operator)
    assert value(after, "exchange_db_pool_max_connections") == settings.db_pool_max
    assert 1 <= value(after, "exchange_db_pool_connections") <= settings.db_pool_max
    # The scrape itself holds one connection while it reads the outbox.
    assert value(after, "exchange_db_pool_in_use_connections") >= 1
    assert value(after, "exchange_db_pool_waiting_requests") == 0
    waits = "exchange_db_pool_wait_seconds_count"
    assert value(after, waits) - value(before, waits) >= 2
    assert "exchange_db_pool_timeouts_total" in {name for name, _ in after}


async def test_the_outbox_backlog_and_its_age_are_shown_per_topic(client, conn):
    operator = await operator_key(conn)
    # A topic no consumer drains, so nothing takes these events away while the test looks.
    created = datetime.now(UTC) - timedelta(minutes=5)
    for attempts in (0, 2):
        await conn.execute(
            "INSERT INTO outbox (topic, aggregate_id, payload, attempts, created_at) VALUES ('test.unclaimed', $1, $2, $3, $4)",
            uuid.uuid4(),
            {"topic": "test.unclaimed"},
            attempts,
            created,
        )
    after = await scrape(client, operator)
    assert value(after, "exchange_outbox_waiting_events", topic="test.unclaimed") == 2
    assert value(after, "exchange_outbox_failing_events", topic="test.unclaimed") == 1
    assert value(after, "exchange_outbox_oldest_waiting_seconds", topic="test.unclaimed") >= 300


async def test_meilisearch_and_stripe_calls_are_timed_and_their_failures_counted(client, conn, settings):
    operator = await operator_key(conn)
    calls = "exchange_remote_call_duration_seconds_count"
    before = await scrape(client, operator)
    assert (await client.get("/v1/search/offers", params={"q": "nước thải"})).status_code == 200
    await client.app.state.stripe.client.v1.customers.list_async({"limit": 1})
    # Nothing listens on port 9 of loopback: a call that gets no answer at all.
    away = engine.open_client(msgspec.structs.replace(settings, meili_url="http://127.0.0.1:9"))
    try:
        with pytest.raises(MeilisearchCommunicationError):
            await away.health()
    finally:
        await away.aclose()
    after = await scrape(client, operator)
    for service in ("meilisearch", "stripe"):
        assert value(after, calls, service=service) > value(before, calls, service=service), service
    errors = "exchange_remote_call_errors_total"
    assert value(after, errors, service="meilisearch", error="ConnectError") > value(
        before, errors, service="meilisearch", error="ConnectError"
    )


async def test_notifications_delivered_and_retried_are_counted(client, conn):
    operator, institute, enterprise = await parties(client, conn)
    delivered = "exchange_notifications_total"
    before = await scrape(client, operator)
    async with Receiver([500]) as receiver:
        sub = await subscribe(client, enterprise, kind="offers", query="nước thải", webhook_url=receiver.url)
        await published(client, "offer", institute, operator, offer_body())
        await until(
            lambda: delivery(conn, sub["id"]),
            lambda r: r is not None and r["delivery_status"] == "delivered",
            "webhook delivery",
            DEADLINE_SECONDS,
        )
    after = await scrape(client, operator)
    assert value(after, delivered, outcome="delivered") - value(before, delivered, outcome="delivered") == 1
    assert value(after, delivered, outcome="retried") - value(before, delivered, outcome="retried") == 1


def test_with_two_worker_processes_every_scrape_counts_every_request(settings, tmp_path):
    operator = "op-" + uuid.uuid4().hex + uuid.uuid4().hex
    env: dict[str, str | None] = {
        "OPERATOR_BOOTSTRAP_KEY": operator,
        "RUN_JOBS": "false",
        "LISTING_CACHE_ENTRIES": "0",
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": None,
    }
    with exchange_serve(settings, tmp_path / "serve.log", "--workers", "2", env=env) as base:
        missing = f"{base}/v1/offers/{uuid.uuid4()}"
        for _ in range(20):
            # A new connection each time, so the requests spread over both processes.
            assert httpx.get(missing, trust_env=False, headers={"X-Request-ID": "spread"}).status_code == 404
        labels = {"method": "GET", "path": OFFER_ROUTE, "status_code": "404", "app_name": "exchange"}
        for _ in range(6):
            answer = httpx.get(f"{base}/metrics", headers=bearer(operator), trust_env=False)
            assert answer.status_code == 200, answer.text
            # Whichever process answers counts both processes' requests (the scrapes themselves are not counted).
            assert value(samples(answer.text), "exchange_http_requests_total", **labels) == 20
    lines = [msgspec.json.decode(line) for line in (tmp_path / "serve.log").read_text().splitlines() if line.strip()]
    spread = [line for line in lines if line.get("request_id") == "spread"]
    assert len(spread) == 20
    assert {(line["route"], line["status"], line["method"]) for line in spread} == {(OFFER_ROUTE, 404, "GET")}
    assert all(isinstance(line["duration_ms"], float) for line in spread)
