"""The embedded stack starts real servers on loopback and leaves nothing behind."""

import stat
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
import stripe

from exchange.dev.stack import Stack


def postmaster_pid(stack: Stack) -> int:
    """The PostgreSQL server's pid, from the first line of postmaster.pid."""
    return int((stack.pgdata / "postmaster.pid").read_text().splitlines()[0])


def stack_pids(stack: Stack) -> list[int]:
    """Every process the stack runs: this process's children plus the daemonised PostgreSQL."""
    children = [p.pid for p in psutil.Process().children(recursive=True)]
    server = psutil.Process(postmaster_pid(stack))
    return children + [server.pid] + [p.pid for p in server.children(recursive=True)]


def is_gone(pid: int) -> bool:
    """True when pid no longer runs (a zombie waiting for init to reap it counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


def test_env_points_at_loopback(stack: Stack) -> None:
    env = stack.env()
    assert set(env) == {
        "DATABASE_URL",
        "MEILI_URL",
        "MEILI_MASTER_KEY",
        "STRIPE_API_BASE",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "ALLOW_PRIVATE_WEBHOOKS",
        "SMTP_URL",
        "MAIL_SECRET",
    }
    # A development stack: webhooks may go to a receiver on this machine.
    assert env["ALLOW_PRIVATE_WEBHOOKS"] == "true"
    assert env["MEILI_URL"].startswith("http://127.0.0.1:")
    assert env["STRIPE_API_BASE"].startswith("http://127.0.0.1:")
    assert env["STRIPE_SECRET_KEY"].startswith("sk_test_")
    assert env["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
    assert stat.S_IMODE((stack.data_dir / "meili.key").stat().st_mode) == 0o600
    assert env["SMTP_URL"].startswith("smtp://127.0.0.1:")
    assert stat.S_IMODE((stack.data_dir / "mail.key").stat().st_mode) == 0o600


async def test_postgres_answers_and_has_extensions(stack: Stack) -> None:
    conn = await asyncpg.connect(stack.database_url)
    try:
        assert await conn.fetchval("select 1") == 1
        for name in ("unaccent", "pg_trgm", "vector"):
            await conn.execute(f"create extension if not exists {name}")
        assert await conn.fetchval("select unaccent('công nghệ')") == "cong nghe"
    finally:
        await conn.close()


async def test_meilisearch_is_healthy_and_needs_the_key(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.meili_url, trust_env=False) as client:
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/indexes")).status_code in (401, 403)
        authorized = await client.get("/indexes", headers={"Authorization": f"Bearer {stack.meili_master_key}"})
        assert authorized.status_code == 200


async def test_meilisearch_restarts_on_the_same_url(stack: Stack) -> None:
    url = stack.meili_url
    stack.restart_meilisearch()
    assert stack.meili_url == url
    async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
        assert (await client.get("/health")).status_code == 200


# stripe 16's httpx client sends the form body as data=<bytes>, which httpx deprecates.
@pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")
async def test_stripe_sandbox_confirms_a_payment_intent(stack: Stack) -> None:
    # An explicit HTTP client, because StripeClient has no close of its own for the one it would make.
    http_client = stripe.HTTPXClient()
    client = stripe.StripeClient(
        stack.stripe_secret_key, base_addresses={"api": stack.stripe_api_base}, http_client=http_client
    )
    try:
        intent = await client.v1.payment_intents.create_async(
            params={"amount": 150000, "currency": "vnd", "payment_method": "pm_card_visa", "confirm": True}
        )
    finally:
        await http_client.close_async()
    assert intent.status == "succeeded"
    assert intent.amount == 150000


def test_children_listen_on_loopback_only(stack: Stack) -> None:
    listening = []
    for pid in stack_pids(stack):
        for conn in psutil.Process(pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                listening.append(conn.laddr)
    assert listening, "Meilisearch and the Stripe sandbox listen on TCP"
    assert {addr.ip for addr in listening} == {"127.0.0.1"}
    # PostgreSQL listens on its unix socket only.
    assert psutil.Process(postmaster_pid(stack)).net_connections(kind="inet") == []


def test_restart_on_same_data_dir_then_stop_leaves_nothing(tmp_path: Path) -> None:
    Stack(tmp_path).start().stop()
    others = {p.pid for p in psutil.Process().children(recursive=True)}
    second = Stack(tmp_path).start()
    try:
        pids = set(stack_pids(second)) - others
        assert len(pids) >= 4
    finally:
        second.stop()
    second.stop()
    assert sorted(pid for pid in pids if not is_gone(pid)) == []
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
