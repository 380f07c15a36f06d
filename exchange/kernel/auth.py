"""API keys and the principal behind a request: who they are and what they may do."""

import hashlib
import secrets
from typing import Literal
from uuid import UUID

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler

from exchange.kernel import ratelimit
from exchange.kernel.db import borrowed
from exchange.kernel.errors import Forbidden, Unauthorized

KEY_PREFIX = "tmx_"
Role = Literal["owner", "editor", "viewer", "operator", "partner"]
OperatorRole = Literal["admin", "reviewer", "finance"]
_RANK = {"viewer": 1, "editor": 2, "owner": 3}


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The member a valid API key belongs to, with its organization's standing."""

    member_id: UUID
    key_id: UUID
    role: Role
    operator_role: OperatorRole | None = None
    org_id: UUID | None
    org_kind: str | None
    org_status: str | None
    org_province: str | None

    @property
    def is_operator(self) -> bool:
        """Operators are the exchange's own staff."""
        return self.role == "operator"

    def is_staff(self, role: OperatorRole) -> bool:
        """An operator in this role, or an admin (who may do everything)."""
        return self.is_operator and self.operator_role in (role, "admin")

    def is_member_of(self, org_id: UUID, at_least: str = "viewer") -> bool:
        """True when this member belongs to org_id with at least the given role."""
        return self.org_id == org_id and _RANK.get(self.role, 0) >= _RANK[at_least]


class NewKey(msgspec.Struct, frozen=True, kw_only=True):
    """A freshly generated key: the secret is shown once, only the hash is stored."""

    secret: str
    key_hash: bytes
    prefix: str


Caller = NamedDependency[Principal | None]
"""A route parameter that receives the principal behind the request's key, or None without one."""


def hash_key(secret: str) -> bytes:
    """Keys are 256-bit random tokens, so one SHA-256 is a sufficient one-way hash."""
    return hashlib.sha256(secret.encode()).digest()


def new_key() -> NewKey:
    """Generate a random, prefixed API key."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(secret=secret, key_hash=hash_key(secret), prefix=secret[:12])


_PRINCIPAL_SQL = """
SELECT k.id AS key_id, m.id AS member_id, m.role, m.operator_role, m.org_id,
       o.kind AS org_kind, o.status AS org_status, o.province AS org_province
FROM api_keys k
JOIN members m ON m.id = k.member_id AND m.removed_at IS NULL
LEFT JOIN organizations o ON o.id = m.org_id
WHERE k.key_hash = $1 AND k.revoked_at IS NULL
"""

# One round trip per keyed request: the principal, the failed keys of the caller's address, and the key's request
# counted ($4 is null when the budget is off; rate_limit_hit is STRICT: without a principal nothing is counted).
_AUTHENTICATE_SQL = f"""
SELECT p.*, f.hits AS failures, extract(epoch FROM f.window_ends - now())::float8 AS failures_left,
       b.hits AS key_hits, b.seconds_left AS key_left
FROM (SELECT) AS one
LEFT JOIN ({_PRINCIPAL_SQL}) AS p ON true
LEFT JOIN rate_limits f ON f.bucket = $2 AND f.window_ends > now()
LEFT JOIN LATERAL rate_limit_hit($3 || p.key_id::text, $4) AS b ON true
"""


def bearer_token(request: Request) -> str | None:
    """The key of the Authorization header (None without one); any other form of the header is a 401."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <api key>'")
    return token


async def authenticate(request: Request) -> None:
    """Before any route: a request that carries a key must carry a valid one, on public routes too (401).

    An unknown or revoked key from an address that sent too many, or a key past its request budget, gets 429 instead."""
    token = bearer_token(request)
    if token is None:
        return
    settings = request.app.state.settings
    failed, budget = ratelimit.failed_keys(settings), ratelimit.key_requests(settings)
    address = ratelimit.client_address(request)
    async with borrowed(request.app.state) as conn:
        row = await conn.fetchrow(
            _AUTHENTICATE_SQL,
            hash_key(token),
            failed.bucket(address),
            budget.prefix,
            budget.window if budget.limit else None,
        )
        if row["key_id"] is None:
            # Only wrong keys are refused: a valid one from a busy address (a proxy, a partner's test run) still works,
            # and 256-bit keys cannot be guessed, so the limit is about load, not secrecy.
            if failed.limit and (row["failures"] or 0) >= failed.limit:
                raise ratelimit.refusal(
                    failed, row["failures"], row["failures_left"], "too many unknown or revoked keys from this address"
                )
            if failed.limit:
                await ratelimit.hit(conn, failed, address)
            raise Unauthorized("the API key is not valid or has been revoked")
    if budget.limit and row["key_hits"] > budget.limit:
        raise ratelimit.refusal(budget, row["key_hits"], row["key_left"], "this API key has used its request budget")
    principal = msgspec.convert({k: row[k] for k in Principal.__struct_fields__}, Principal)
    if principal.org_status == "suspended" and request.method not in ("GET", "HEAD"):
        raise Forbidden("the organization is suspended: its keys may read but not write")
    request.state.principal = principal


async def provide_principal(request: Request) -> Principal | None:
    """The caller, as authenticate() found it before the route ran; None without a key."""
    return request.state.get("principal")


def key_required(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: refuse a request without any key before its body is read (the key itself is checked later)."""
    if not connection.headers.get("authorization"):
        raise Unauthorized("this route needs an API key: send 'Authorization: Bearer <api key>'")


KEYED = [key_required]
"""The guards of every route that needs a key (pair with exchange.kernel.http.BEARER in the docs)."""


def require(principal: Principal | None) -> Principal:
    """A valid key is needed."""
    if principal is None:
        raise Unauthorized("this route needs an API key: send 'Authorization: Bearer <api key>'")
    return principal


def require_operator(principal: Principal | None, role: OperatorRole | None = None) -> Principal:
    """Only the exchange's operators may act: any of them, or only those in this role (and admins)."""
    p = require(principal)
    if not p.is_operator:
        raise Forbidden("only operators may do this")
    if role is not None and not p.is_staff(role):
        raise Forbidden(f"only operators in the role {role} (or admins) may do this")
    return p


def require_member_of(principal: Principal | None, org_id: UUID, at_least: str = "viewer") -> Principal:
    """Only members of org_id with at least the given role may act."""
    p = require(principal)
    if not p.is_member_of(org_id, at_least):
        raise Forbidden(f"only members of this organization with role {at_least} or higher may do this")
    return p
