"""Rate limits: failed keys and registrations per client address, requests per key; shared by every process."""

import re

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from exchange.app import create_app
from exchange.kernel import ratelimit
from tests.conftest import served
from tests.support import bearer, register

WRONG = bearer("tmx_" + "x" * 43)


@pytest.fixture
def settings(settings):
    """Low limits for this module's apps (the defaults are far above what any test sends)."""
    return msgspec.structs.replace(
        settings,
        auth_failure_limit=5,
        auth_failure_window=60,
        registration_limit=3,
        registration_window=600,
        key_request_limit=8,
        key_request_window=30,
    )


def assert_limited(response: httpx.Response, policy: str, quota: int, window: int) -> None:
    """A 429 problem saying when to retry and which limit it was (draft-ietf-httpapi-ratelimit-headers-10)."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 429
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= window
    assert response.headers["ratelimit-policy"] == f'"{policy}";q={quota};w={window}'
    assert re.fullmatch(rf'"{policy}";r=0;t=\d+', response.headers["ratelimit"]), response.headers["ratelimit"]


async def test_wrong_keys_from_one_address_get_429_after_the_limit(client):
    _, good = await register(client)
    for _ in range(5):
        assert (await client.get("/v1/offers", headers=WRONG)).status_code == 401
    assert_limited(await client.get("/v1/offers", headers=WRONG), "failed-keys", 5, 60)
    # A valid key from the same address still works: only wrong keys are refused.
    assert (await client.get("/v1/me", headers=bearer(good))).status_code == 200
    assert_limited(await client.get("/v1/me", headers=WRONG), "failed-keys", 5, 60)
    # Requests without a key are not authentications.
    assert (await client.get("/v1/offers")).status_code == 200


async def test_a_keys_request_budget_runs_out_and_other_keys_keep_theirs(client):
    _, spender = await register(client)
    _, other = await register(client)
    for _ in range(8):
        assert (await client.get("/v1/me", headers=bearer(spender))).status_code == 200
    assert_limited(await client.get("/v1/me", headers=bearer(spender)), "key", 8, 30)
    assert (await client.get("/v1/me", headers=bearer(other))).status_code == 200


async def test_registrations_from_one_address_get_429_after_the_limit(client):
    for _ in range(3):
        await register(client)
    response = await client.post("/v1/organizations", json={"name": "One too many", "kind": "institute"})
    assert_limited(response, "registrations", 3, 600)


async def test_two_app_instances_on_one_database_share_the_counts(settings, client):
    async with AsyncTestClient(create_app(settings)) as second:
        _, key = await register(client)
        await register(second)
        # Requests of one key through either instance count against one budget.
        for n in range(8):
            assert (await (client, second)[n % 2].get("/v1/me", headers=bearer(key))).status_code == 200
        assert_limited(await second.get("/v1/me", headers=bearer(key)), "key", 8, 30)
        assert_limited(await client.get("/v1/me", headers=bearer(key)), "key", 8, 30)
        # Registrations: two so far, one more is allowed by either, then neither allows another.
        await register(second)
        assert_limited(await client.post("/v1/organizations", json={}), "registrations", 3, 600)
        # Failed keys: five in all, alternating, then both refuse.
        for n in range(5):
            assert (await (client, second)[n % 2].get("/v1/offers", headers=WRONG)).status_code == 401
        assert_limited(await client.get("/v1/offers", headers=WRONG), "failed-keys", 5, 60)
        assert_limited(await second.get("/v1/offers", headers=WRONG), "failed-keys", 5, 60)


async def test_a_limited_address_does_not_limit_another(settings):
    async with served(settings) as url:
        here = httpx.AsyncClient(base_url=url, trust_env=False)
        there = httpx.AsyncClient(
            base_url=url, trust_env=False, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        )
        async with here, there:
            _, key = await register(there)
            for _ in range(5):
                assert (await here.get("/v1/offers", headers=WRONG)).status_code == 401
            assert_limited(await here.get("/v1/offers", headers=WRONG), "failed-keys", 5, 60)
            assert (await here.get("/v1/me", headers=bearer(key))).status_code == 200
            assert (await there.get("/v1/offers", headers=WRONG)).status_code == 401
            assert (await there.get("/v1/me", headers=bearer(key))).status_code == 200


async def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(settings):
    async with served(msgspec.structs.replace(settings, trusted_proxies="127.0.0.1")) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as proxy:
            for _ in range(5):
                response = await proxy.get("/v1/offers", headers={**WRONG, "X-Forwarded-For": "203.0.113.7"})
                assert response.status_code == 401
            limited = await proxy.get("/v1/offers", headers={**WRONG, "X-Forwarded-For": "203.0.113.7"})
            assert_limited(limited, "failed-keys", 5, 60)
            other = await proxy.get("/v1/offers", headers={**WRONG, "X-Forwarded-For": "198.51.100.9"})
            assert other.status_code == 401


async def test_a_limit_of_zero_counts_nothing(settings, conn):
    off = msgspec.structs.replace(settings, auth_failure_limit=0, registration_limit=0, key_request_limit=0)
    async with AsyncTestClient(create_app(off)) as client:
        _, key = await register(client)
        for _ in range(10):
            assert (await client.get("/v1/me", headers=bearer(key))).status_code == 200
            assert (await client.get("/v1/offers", headers=WRONG)).status_code == 401
    assert await conn.fetchval("SELECT count(*) FROM rate_limits") == 0


async def test_counters_of_ended_windows_are_pruned(client, conn):
    _, key = await register(client)
    assert (await client.get("/v1/me", headers=bearer(key))).status_code == 200
    await conn.execute("UPDATE rate_limits SET window_ends = now() - interval '1 second' WHERE bucket LIKE 'key:%'")
    assert await ratelimit.prune(conn) == 1
    assert await conn.fetchval("SELECT array_agg(split_part(bucket, ':', 1)) FROM rate_limits") == ["registrations"]


async def test_the_openapi_document_lists_429_on_every_operation(client):
    document = (await client.get("/schema/openapi.json")).json()
    operations = [
        (path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 50
    # Any request may carry a key, so any operation may meet the failed-keys limit or the key's budget.
    for path, op in operations:
        problem = op["responses"].get("429", {}).get("content", {}).get("application/problem+json")
        assert problem is not None, path
        assert "Retry-After" in op["responses"]["429"]["description"]
