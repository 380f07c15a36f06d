"""Rate limits counted in PostgreSQL (table rate_limits), so every process shares them: fixed windows, one statement a hit.

Litestar's RateLimitMiddleware is not used: it keeps every hit's time in its Store (per process in memory, else a
server of its own), reads and writes it back in two steps under a lock of one process, counts every request of an
address alike, and would cost each request a round trip of its own; here a key's count rides on the query that
authenticates it.
"""

import math

import asyncpg
import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from exchange.kernel.db import borrowed
from exchange.kernel.errors import TooManyRequests
from exchange.kernel.settings import Settings


class Policy(msgspec.Struct, frozen=True):
    """At most `limit` hits per window of `window` seconds, counted per subject (an address, a key); 0 is no limit."""

    name: str
    limit: int
    window: int

    @property
    def prefix(self) -> str:
        """What the rate_limits rows of this policy begin with."""
        return f"{self.name}:"

    def bucket(self, subject: str) -> str:
        """The rate_limits row of one subject."""
        return self.prefix + subject


def failed_keys(settings: Settings) -> Policy:
    """Unknown or revoked keys sent from one address."""
    return Policy("failed-keys", settings.auth_failure_limit, settings.auth_failure_window)


def key_requests(settings: Settings) -> Policy:
    """Requests made with one key."""
    return Policy("key", settings.key_request_limit, settings.key_request_window)


def registrations(settings: Settings) -> Policy:
    """Organizations registered from one address."""
    return Policy("registrations", settings.registration_limit, settings.registration_window)


def client_address(connection: ASGIConnection) -> str:
    """The socket peer, or the client a trusted proxy named (uvicorn rewrites the scope for TRUSTED_PROXIES)."""
    return connection.client.host if connection.client else "unknown"


async def hit(conn: asyncpg.Connection, policy: Policy, subject: str) -> tuple[int, float]:
    """Count one hit; return the hits of the current window and the seconds until it ends."""
    row = await conn.fetchrow("SELECT * FROM rate_limit_hit($1, $2)", policy.bucket(subject), policy.window)
    return row["hits"], row["seconds_left"]


def refusal(policy: Policy, hits: int, seconds_left: float, detail: str) -> TooManyRequests:
    """The 429 of a policy, with Retry-After and the RateLimit fields of draft-ietf-httpapi-ratelimit-headers-10."""
    wait = max(1, math.ceil(seconds_left))
    return TooManyRequests(
        detail,
        headers={
            "Retry-After": str(wait),
            "RateLimit-Policy": f'"{policy.name}";q={policy.limit};w={policy.window}',
            "RateLimit": f'"{policy.name}";r={max(0, policy.limit - hits)};t={wait}',
        },
    )


async def limit_registrations(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: count the attempt against the client address's registrations, before the body is read (429 past it)."""
    policy = registrations(connection.app.state.settings)
    if not policy.limit:
        return
    async with borrowed(connection.app.state) as conn:
        hits, seconds_left = await hit(conn, policy, client_address(connection))
    if hits > policy.limit:
        raise refusal(policy, hits, seconds_left, "too many registrations from this address; retry later")


async def prune(conn: asyncpg.Connection) -> int:
    """Delete the counters of windows that have ended; return how many went."""
    return await conn.fetchval(
        "WITH gone AS (DELETE FROM rate_limits WHERE window_ends <= now() RETURNING 1) SELECT count(*) FROM gone"
    )
