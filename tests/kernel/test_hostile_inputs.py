"""Inputs an attacker would send: each is a 4xx problem naming what is wrong, never a 500."""

import base64
import json

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from exchange.app import create_app
from tests.support import bearer, operator_key, published_offer, register, verified_org


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


async def test_a_body_that_is_not_utf8_is_a_400(client):
    _, key = await register(client)
    response = await client.post(
        "/v1/offers", content=b'{"title": "\xff\xfe bad"}', headers={**bearer(key), "content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_json_nested_50000_deep_is_a_4xx(client):
    _, key = await register(client)
    deep = b"[" * 50_000 + b"]" * 50_000
    response = await client.post(
        "/v1/offers", content=deep, headers={**bearer(key), "content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text


OUT_OF_RANGE = (
    base64.urlsafe_b64encode(json.dumps(["9999-12-31T23:59:59-14:00", "00000000-0000-0000-0000-000000000000"]).encode())
    .decode()
    .rstrip("=")
)


async def test_a_cursor_whose_time_is_out_of_range_is_a_400_on_every_list(client, conn):
    operator = await operator_key(conn)
    org, key = await verified_org(client, operator, "enterprise")
    sub = await client.post("/v1/subscriptions", json={"kind": "offers", "query": "x"}, headers=bearer(key))
    assert sub.status_code == 201, sub.text
    lists = [
        "/v1/offers",
        "/v1/demands",
        "/v1/interests?box=received",
        "/v1/deals",
        "/v1/invoices",
        "/v1/subscriptions",
        f"/v1/subscriptions/{sub.json()['id']}/notifications",
        f"/v1/organizations/{org['organization']['id']}/members",
    ]
    for path in lists:
        joiner = "&" if "?" in path else "?"
        response = await client.get(f"{path}{joiner}cursor={OUT_OF_RANGE}", headers=bearer(key))
        body = _is_problem(response, 400)
        assert "cursor" in body["detail"], path


@pytest.mark.parametrize("tag", ['"' + "9" * 5000 + '"', '"²"', '"١"', "9" * 30])
async def test_an_if_match_that_is_no_version_is_a_400(client, conn, tag):
    operator = await operator_key(conn)
    _, key = await verified_org(client, operator)
    offer = await published_offer(client, key, operator)
    response = await client.patch(
        f"/v1/offers/{offer['id']}", json={"price_type": "firm"}, headers={**bearer(key), "if-match": tag.encode()}
    )
    body = _is_problem(response, 400)
    assert "If-Match" in body["detail"]


async def test_a_body_that_is_not_json_is_a_415(client):
    _, key = await register(client)
    response = await client.post(
        "/v1/offers", content=b"title=x", headers={**bearer(key), "content-type": "application/x-www-form-urlencoded"}
    )
    _is_problem(response, 415)


@pytest.mark.parametrize(
    "path", ["/v1/taxonomy", "/v1/fees/schedule", "/v1/search/offers", "/v1/offers", "/health/live"]
)
@pytest.mark.parametrize("header", ["Bearer tmx_not-a-real-key", "Basic abc", "Bearer "])
async def test_a_bad_key_is_a_401_on_public_routes_too(client, path, header):
    response = await client.get(path, headers={"authorization": header})
    _is_problem(response, 401)


async def test_every_response_says_nosniff_and_private_ones_are_never_cached(client, conn):
    anonymous = await client.get("/v1/offers")
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in anonymous.headers.get("cache-control", "")
    missing = await client.get("/v1/nowhere")
    assert missing.status_code == 404 and missing.headers["x-content-type-options"] == "nosniff"
    registered = await client.post(
        "/v1/organizations",
        json={"name": "Viện Cache", "kind": "institute", "province": "79", "contact_email": "c@cache.example.vn"},
    )
    assert registered.status_code == 201 and "api_key" in registered.json()
    assert registered.headers["cache-control"] == "no-store"
    key = registered.json()["api_key"]
    for path in ("/v1/me", "/v1/invoices", "/v1/offers?mine=true"):
        response = await client.get(path, headers=bearer(key))
        assert response.status_code == 200, (path, response.text)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["x-content-type-options"] == "nosniff", path


async def test_cors_is_off_by_default_and_follows_the_allow_list(client, settings):
    preflight = {"origin": "https://evil.example", "access-control-request-method": "POST"}
    response = await client.options("/v1/offers", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    allowed = msgspec.structs.replace(settings, cors_origins="https://techmart.example.vn")
    async with AsyncTestClient(app=create_app(allowed)) as other:
        ok = await other.options("/v1/offers", headers={**preflight, "origin": "https://techmart.example.vn"})
        assert ok.headers["access-control-allow-origin"] == "https://techmart.example.vn"
        refused = await other.options("/v1/offers", headers=preflight)
        assert refused.headers.get("access-control-allow-origin") != "https://evil.example"


async def test_the_openapi_document_lists_the_answers_the_kernel_gives(client):
    document = (await client.get("/schema/openapi.json")).json()
    operations = [
        op
        for item in document["paths"].values()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 50
    for op in operations:
        assert "503" in op["responses"], op["summary"]
        if "requestBody" in op:
            assert {"413", "415"} <= set(op["responses"]), op["summary"]
