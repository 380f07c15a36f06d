"""PostgreSQL stopped under the service and started again: 503 with Retry-After meanwhile, never a 500."""

import asyncio

from tests.support import bearer, register


async def test_a_stopped_database_is_a_503_and_the_service_recovers(client, stack):
    _, key = await register(client)
    assert (await client.get("/v1/offers")).status_code == 200
    stack.pause_postgres()
    try:
        for path, headers in (("/v1/offers", {}), ("/v1/me", bearer(key)), ("/v1/stats", {})):
            response = await client.get(path, headers=headers)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["retry-after"].isdigit()
            assert response.headers["content-type"].startswith("application/problem+json")
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        database = {c["name"]: c for c in ready.json()["checks"]}["database"]
        assert database["ok"] is False and "Error" not in database["detail"]
    finally:
        stack.resume_postgres()
    for _ in range(50):
        if (await client.get("/v1/offers")).status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert (await client.get("/v1/me", headers=bearer(key))).status_code == 200
    assert (await client.get("/health/ready")).status_code == 200
