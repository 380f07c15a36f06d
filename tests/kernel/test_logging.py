"""The service's log: one JSON object per line, a line per request, no secret anywhere, libraries quiet."""

import io
import logging
from collections.abc import Iterator

import msgspec
import pytest

from exchange.kernel import logs
from matching import engine
from tests.matching.test_subscriptions import Receiver, subscribe
from tests.support import bearer, operator_key, verified_org


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, as the service writes it (JSON lines), at INFO and above."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    library_levels = {name: logging.getLogger(name).level for name in logs.LIBRARY_LOGGERS}
    out = io.StringIO()
    logs.configure("INFO", "json")
    root.handlers[0].setStream(out)
    try:
        yield out
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, library_level in library_levels.items():
            logging.getLogger(name).setLevel(library_level)


def parsed(out: io.StringIO) -> list[dict]:
    """Every line, each of which must be one JSON object."""
    return [msgspec.json.decode(line) for line in out.getvalue().splitlines()]


async def test_each_request_is_one_json_line_with_its_id_route_status_and_duration(client, log_lines):
    response = await client.get("/v1/offers/00000000-0000-0000-0000-000000000000", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 404
    [line] = [line for line in parsed(log_lines) if line.get("request_id") == "req-123"]
    assert line["logger"] == "exchange.requests" and line["level"] == "INFO"
    assert (line["method"], line["route"], line["status"]) == ("GET", "/v1/offers/{listing_id}", 404)
    assert line["path"] == "/v1/offers/00000000-0000-0000-0000-000000000000"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].endswith("+00:00")


async def test_no_secret_reaches_the_log(client, conn, log_lines):
    operator = await operator_key(conn)
    _, key = await verified_org(client, operator, "enterprise")
    secrets = [operator, key]
    async with Receiver([]) as receiver:
        sub = await subscribe(client, key, kind="offers", query="pin", webhook_url=receiver.url)
    secrets.append(sub["webhook_secret"])
    assert (await client.get("/v1/me", headers=bearer("tmx_" + "w" * 43))).status_code == 401
    secrets.append("tmx_" + "w" * 43)
    # What code might one day log by mistake: a header, a Stripe client secret, a key inside an error.
    log = logging.getLogger("exchange.test")
    log.warning("calling with Authorization: Bearer %s", key, extra={"authorization": f"Bearer {key}"})
    log.info("intent pi_3Abc123_secret_Zyx987 confirmed", extra={"client_secret": "pi_3Abc123_secret_Zyx987"})
    secrets.append("pi_3Abc123_secret_Zyx987")
    try:
        raise RuntimeError(f"refused key {key} and whsec_{'s' * 40} for sk_test_{'k' * 24}")
    except RuntimeError:
        log.exception("failed")
    secrets += [f"whsec_{'s' * 40}", f"sk_test_{'k' * 24}", "Zyx987"]
    text = log_lines.getvalue()
    assert len(parsed(log_lines)) >= 7
    for secret in secrets:
        assert secret not in text
        # Without its prefix too, for the long ones (a short tail such as "87" occurs in any request id).
        assert len(secret) < 16 or secret[4:] not in text
    assert "tmx_***" in text and "whsec_***" in text and "pi_3Abc123_secret_***" in text


async def test_meilisearch_task_polls_print_nothing(settings, log_lines):
    client = engine.open_client(settings)
    try:
        await engine.ensure_indexes(client, settings)
    finally:
        await client.aclose()
    assert [line for line in parsed(log_lines) if line["logger"].startswith(("httpx", "meilisearch"))] == []


def test_a_terminal_gets_readable_text():
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.TextFormatter())
    log = logging.getLogger("exchange.test.text")
    log.addHandler(handler)
    try:
        log.warning("GET %s %d", "/v1/me", 401, extra={"request_id": "r1", "api_key": "tmx_abc"})
    finally:
        log.removeHandler(handler)
    line = out.getvalue().strip()
    assert " WARNING exchange.test.text: GET /v1/me 401 " in line
    assert "request_id=r1" in line and "api_key=***" in line and "tmx_abc" not in line
