"""The `exchange` command, run as a user runs it: a separate process with DATABASE_URL set."""

import asyncio
import os
import subprocess
import sys

from litestar.testing import AsyncTestClient

from exchange.app import create_app
from tests.support import bearer, operator_key, published_offer, verified_org


def run_cli(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `exchange ...` against one database and return what it printed."""
    return subprocess.run(
        [sys.executable, "-m", "exchange.cli", *args],
        env={**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_create_operator_prints_a_working_key_last(settings, database_url):
    done = run_cli(database_url, "create-operator", "--email", "ops@exchange.example.vn")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("tmx_")
    async with AsyncTestClient(create_app(settings)) as client:
        me = await client.get("/v1/me", headers=bearer(key))
        assert me.status_code == 200
        assert me.json()["role"] == "operator"
        assert me.json()["member"]["email"] == "ops@exchange.example.vn"


async def test_migrate_and_seed_are_idempotent(conn, database_url):
    assert run_cli(database_url, "migrate").returncode == 0
    first = run_cli(database_url, "seed")
    assert first.returncode == 0, first.stderr
    listings = await conn.fetchval("SELECT count(*) FROM listings")
    organizations = await conn.fetchval("SELECT count(*) FROM organizations")
    assert listings >= 300 and organizations >= 30
    again = run_cli(database_url, "seed")
    assert again.returncode == 0, again.stderr
    assert await conn.fetchval("SELECT count(*) FROM listings") == listings
    assert await conn.fetchval("SELECT count(*) FROM schema_migrations") >= 1


async def test_a_live_stripe_key_is_refused_at_start(database_url):
    done = run_cli(database_url, "migrate", STRIPE_SECRET_KEY="sk_live_not_ours")
    assert done.returncode == 2
    assert "live Stripe key" in done.stderr


async def test_worker_stores_expiry(client, conn, database_url):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    await conn.execute("UPDATE listings SET expires_at = now() - interval '1 minute' WHERE id = $1::uuid", offer["id"])
    worker = subprocess.Popen(
        [sys.executable, "-m", "exchange.cli", "worker"],
        env={**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "EXPIRY_SWEEP_SECONDS": "0.2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status = None
        for _ in range(100):
            status = await conn.fetchval("SELECT status FROM listings WHERE id = $1::uuid", offer["id"])
            if status == "expired":
                break
            await asyncio.sleep(0.1)
        assert status == "expired"
        events = await conn.fetch(
            "SELECT payload FROM outbox WHERE aggregate_id = $1::uuid AND topic = 'listing.changed' ORDER BY id",
            offer["id"],
        )
        assert events[-1]["payload"]["status"] == "expired"
    finally:
        worker.terminate()
        worker.wait(10)


async def test_create_operator_takes_a_role_and_defaults_to_admin(settings, database_url):
    reviewer = run_cli(database_url, "create-operator", "--email", "rev@exchange.example.vn", "--role", "reviewer")
    assert reviewer.returncode == 0, reviewer.stderr
    admin = run_cli(database_url, "create-operator", "--email", "boss@exchange.example.vn")
    again = run_cli(database_url, "create-operator", "--email", "rev@exchange.example.vn")
    wrong = run_cli(database_url, "create-operator", "--email", "x@exchange.example.vn", "--role", "janitor")
    assert wrong.returncode != 0
    async with AsyncTestClient(create_app(settings)) as client:
        for done, role in ((reviewer, "reviewer"), (admin, "admin"), (again, "reviewer")):
            me = await client.get("/v1/me", headers=bearer(done.stdout.strip().splitlines()[-1]))
            assert me.json()["operator_role"] == role
        reviewer_key = reviewer.stdout.strip().splitlines()[-1]
        assert (await client.get("/v1/audit", headers=bearer(reviewer_key))).status_code == 403
