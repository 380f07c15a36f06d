"""Every operator-only route against every role: the roles it names may act, every other key gets 403."""

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import bearer, operator_key, register

ROLES = ("admin", "reviewer", "finance", "member")
ANY_OPERATOR = frozenset({"admin", "reviewer", "finance"})
SCHEDULE = {
    "tiers": [{"up_to": None, "bps": 200}],
    "minimum_fee": {"amount": 1_000_000, "currency": "VND"},
    "maximum_fee": None,
    "split": {"buyer_bps": 5000, "seller_bps": 5000},
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    allowed: frozenset[str]
    body: dict[str, Any] | None = None


NOBODY = str(uuid.uuid4())
# Unknown ids: a role check comes before the lookup, so a refused role gets 403 and an allowed one 404.
ROUTES = {
    "list organizations": Route("GET", "/v1/organizations?status=pending_verification", ANY_OPERATOR),
    "verify": Route("POST", f"/v1/organizations/{NOBODY}/verify", frozenset({"admin", "reviewer"})),
    "approve offer": Route("POST", f"/v1/offers/{NOBODY}/approve", frozenset({"admin", "reviewer"})),
    "reject offer": Route(
        "POST", f"/v1/offers/{NOBODY}/reject", frozenset({"admin", "reviewer"}), {"reason": "Not a technology"}
    ),
    "approve demand": Route("POST", f"/v1/demands/{NOBODY}/approve", frozenset({"admin", "reviewer"})),
    "reject demand": Route(
        "POST", f"/v1/demands/{NOBODY}/reject", frozenset({"admin", "reviewer"}), {"reason": "Not a technology"}
    ),
    "fee schedule": Route("PUT", "/v1/fees/schedule", frozenset({"admin", "finance"}), SCHEDULE),
    "refund": Route("POST", f"/v1/invoices/{NOBODY}/refund", frozenset({"admin", "finance"})),
    "suspend": Route("POST", f"/v1/organizations/{NOBODY}/suspend", frozenset({"admin"}), {"reason": "Fraud found"}),
    "reinstate": Route(
        "POST", f"/v1/organizations/{NOBODY}/reinstate", frozenset({"admin"}), {"reason": "Cleared by inquiry"}
    ),
    "add operator": Route(
        "POST",
        "/v1/operators",
        frozenset({"admin"}),
        {"email": "new-op@exchange.example.vn", "name": "New operator", "role": "reviewer"},
    ),
    "list operators": Route("GET", "/v1/operators", frozenset({"admin"})),
    "remove operator": Route("DELETE", f"/v1/operators/{NOBODY}", frozenset({"admin"})),
    "audit": Route("GET", "/v1/audit", frozenset({"admin"})),
    "add partner": Route(
        "POST", "/v1/partners", frozenset({"admin"}), {"name": "Partner exchange", "email": "feed@partner.example.vn"}
    ),
    "remove partner": Route("DELETE", f"/v1/partners/{NOBODY}", frozenset({"admin"})),
    "change feed": Route("GET", "/v1/changes", ANY_OPERATOR),
}
# The review queue is a filter of a public list: a member without mine=true is told to add it (400), not refused.
QUEUES = {
    "offer review queue": Route("GET", "/v1/offers?status=pending_review", ANY_OPERATOR),
    "demand review queue": Route("GET", "/v1/demands?status=pending_review", ANY_OPERATOR),
}
CASES = [(name, role) for name in ROUTES for role in ROLES] + [
    (name, role) for name in QUEUES for role in sorted(ANY_OPERATOR)
]


async def key_of(client, conn, role: str) -> str:
    """A key in this role: an operator's, or an organization owner's for 'member'."""
    if role == "member":
        return (await register(client))[1]
    return await operator_key(conn, f"{role}@exchange.example.vn", role)


@pytest.mark.parametrize(("name", "role"), CASES)
async def test_role_matrix(client, conn, name, role):
    route = ROUTES.get(name) or QUEUES[name]
    key = await key_of(client, conn, role)
    response = await client.request(route.method, route.path, json=route.body, headers=bearer(key))
    if role in route.allowed:
        assert response.status_code not in (401, 403, 422), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_refused_role_changes_nothing(client, conn):
    finance = await operator_key(conn, "finance@exchange.example.vn", "finance")
    data, _ = await register(client)
    org_id = data["organization"]["id"]
    refused = await client.post(f"/v1/organizations/{org_id}/verify", headers=bearer(finance))
    assert refused.status_code == 403
    assert "reviewer" in refused.json()["detail"]
    assert await conn.fetchval("SELECT status FROM organizations WHERE id = $1", uuid.UUID(org_id)) == (
        "pending_verification"
    )
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'verify'") == 0
