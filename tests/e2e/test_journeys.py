"""Journeys through the running service over real HTTP, as an outside client sees it."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support import bearer, demand_body, offer_body, register, verified_org

PROBLEM = "application/problem+json"


# --- helpers ------------------------------------------------------------------


def when(value: str) -> datetime:
    """Parse an RFC 3339 time."""
    return datetime.fromisoformat(value)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Check a problem-details response and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body


async def verify(http: httpx.AsyncClient, operator: str, org_id: str) -> dict[str, Any]:
    """Have the operator verify an organization."""
    response = await http.post(f"/v1/organizations/{org_id}/verify", headers=bearer(operator))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "verified"
    return response.json()


async def create(http: httpx.AsyncClient, key: str, kind: str = "offers", **overrides: Any) -> dict[str, Any]:
    """Create a draft listing."""
    body = offer_body(**overrides) if kind == "offers" else demand_body(**overrides)
    response = await http.post(f"/v1/{kind}", json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "draft"
    return response.json()


async def act(
    http: httpx.AsyncClient, key: str, listing_id: str, action: str, kind: str = "offers", **kw: Any
) -> dict[str, Any]:
    """Run one lifecycle action that must succeed."""
    response = await http.post(f"/v1/{kind}/{listing_id}/{action}", headers=bearer(key), **kw)
    assert response.status_code == 200, response.text
    return response.json()


async def published(
    http: httpx.AsyncClient, key: str, operator: str, kind: str = "offers", **overrides: Any
) -> dict[str, Any]:
    """Create, submit and approve a listing."""
    listing = await create(http, key, kind, **overrides)
    await act(http, key, listing["id"], "submit", kind)
    approved = await act(http, operator, listing["id"], "approve", kind)
    assert approved["status"] == "published"
    return approved


async def public_ids(http: httpx.AsyncClient, kind: str = "offers", headers: dict[str, str] | None = None) -> list[str]:
    """Every id of the public list, following the cursors."""
    ids: list[str] = []
    cursor = None
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        response = await http.get(f"/v1/{kind}", params=params, headers=headers or {})
        assert response.status_code == 200, response.text
        page = response.json()
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


# --- journeys -----------------------------------------------------------------


async def test_institute_publishes_an_offer(http, server):
    """Register, verify, create, submit, approve; the public sees the offer without its private fields."""
    registration, key = await register(http, "institute")
    org = registration["organization"]
    assert org["status"] == "pending_verification"
    assert org["kind"] == "institute"
    assert registration["member"]["role"] == "owner"
    assert registration["member"]["org_id"] == org["id"]
    assert key.startswith("tmx_")

    me = await http.get("/v1/me", headers=bearer(key))
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "owner"
    assert me.json()["member"]["id"] == registration["member"]["id"]
    assert me.json()["organization"]["id"] == org["id"]

    verified_org = await verify(http, server.operator_key, org["id"])
    assert verified_org["verified_at"] is not None

    body = offer_body()
    created = await http.post("/v1/offers", json=body, headers=bearer(key))
    assert created.status_code == 201, created.text
    offer = created.json()
    assert offer["status"] == "draft"
    assert offer["owner_org_id"] == org["id"]
    assert offer["title"] == body["title"]
    assert offer["region"] == "75"
    assert offer["price"] == {"amount": 850_000_000, "currency": "VND"}
    assert isinstance(offer["quality"]["score"], int) and 0 <= offer["quality"]["score"] <= 100
    assert isinstance(offer["quality"]["hints"], list)
    assert all(isinstance(h, str) for h in offer["quality"]["hints"])
    assert offer["published_at"] is None and offer["expires_at"] is None
    assert created.headers["etag"] == f'"{offer["version"]}"'

    submitted = await act(http, key, offer["id"], "submit")
    assert submitted["status"] == "pending_review"
    assert submitted["submitted_at"] is not None

    approved = await act(http, server.operator_key, offer["id"], "approve")
    assert approved["status"] == "published"
    published_at = when(approved["published_at"])
    expires_at = when(approved["expires_at"])
    now = datetime.now(UTC)
    assert abs(published_at - now) < timedelta(minutes=1)
    assert abs(expires_at - (published_at + timedelta(days=365))) < timedelta(minutes=1)

    anonymous = await http.get(f"/v1/offers/{offer['id']}")
    assert anonymous.status_code == 200, anonymous.text
    public = anonymous.json()
    assert public["status"] == "published"
    assert public["title"] == body["title"]
    assert "confidential_details" not in public
    assert "contact" not in public
    assert "rejection_reason" not in public

    owner_view = await http.get(f"/v1/offers/{offer['id']}", headers=bearer(key))
    assert owner_view.status_code == 200
    assert owner_view.json()["confidential_details"] == body["confidential_details"]
    assert owner_view.json()["contact"] == body["contact"]

    assert offer["id"] in await public_ids(http)
    listed = await http.get("/v1/offers", params={"limit": 100})
    assert listed.status_code == 200
    assert listed.json()["items"]
    for item in listed.json()["items"]:
        assert item["status"] == "published"
        assert "confidential_details" not in item
        assert "contact" not in item


async def test_other_organizations_and_anonymous_cannot_edit(http, server):
    """A verified enterprise gets 403 on another's offer; no key gets 401; nothing changes."""
    _, institute = await verified_org(http, server.operator_key, "institute")
    _, enterprise = await verified_org(http, server.operator_key, "enterprise")
    offer = await published(http, institute, server.operator_key)

    patched = await http.patch(
        f"/v1/offers/{offer['id']}", json={"title": "Hijacked title here"}, headers=bearer(enterprise)
    )
    assert_problem(patched, 403)
    for action in ("submit", "withdraw", "renew"):
        response = await http.post(f"/v1/offers/{offer['id']}/{action}", headers=bearer(enterprise))
        assert_problem(response, 403)
    anonymous = await http.patch(f"/v1/offers/{offer['id']}", json={"title": "Anonymous title here"})
    assert_problem(anonymous, 401)

    after = (await http.get(f"/v1/offers/{offer['id']}")).json()
    assert after["title"] == offer["title"]
    assert after["status"] == "published"
    assert after["version"] == offer["version"]


async def test_unverified_organization_cannot_be_approved(http, server):
    """Approval waits for the organization's verification."""
    registration, key = await register(http, "institute")
    offer = await create(http, key)
    await act(http, key, offer["id"], "submit")

    refused = await http.post(f"/v1/offers/{offer['id']}/approve", headers=bearer(server.operator_key))
    problem = assert_problem(refused, 409)
    assert "not verified" in problem["detail"]
    assert "organization" in problem["detail"]
    still = await http.get(f"/v1/offers/{offer['id']}", headers=bearer(key))
    assert still.json()["status"] == "pending_review"

    await verify(http, server.operator_key, registration["organization"]["id"])
    approved = await act(http, server.operator_key, offer["id"], "approve")
    assert approved["status"] == "published"


async def test_if_match(http, server):
    """A stale If-Match gets 412 and changes nothing; the current ETag succeeds and bumps it."""
    _, key = await verified_org(http, server.operator_key)
    offer = await create(http, key)
    fetched = await http.get(f"/v1/offers/{offer['id']}", headers=bearer(key))
    current_etag = fetched.headers["etag"]
    version = fetched.json()["version"]
    assert current_etag == f'"{version}"'

    stale = await http.patch(
        f"/v1/offers/{offer['id']}",
        json={"title": "A stale edit of the title"},
        headers=bearer(key) | {"If-Match": f'"{version - 1}"'},
    )
    assert_problem(stale, 412)
    unchanged = await http.get(f"/v1/offers/{offer['id']}", headers=bearer(key))
    assert unchanged.json()["version"] == version
    assert unchanged.json()["title"] == offer["title"]
    assert unchanged.headers["etag"] == current_etag

    fresh = await http.patch(
        f"/v1/offers/{offer['id']}",
        json={"title": "A fresh edit of the title"},
        headers=bearer(key) | {"If-Match": current_etag},
    )
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["title"] == "A fresh edit of the title"
    assert fresh.json()["version"] == version + 1
    assert fresh.headers["etag"] == f'"{version + 1}"'

    again = await http.patch(
        f"/v1/offers/{offer['id']}",
        json={"title": "Another edit of the title"},
        headers=bearer(key) | {"If-Match": current_etag},
    )
    assert_problem(again, 412)


async def test_validation_errors(http, server):
    """Unknown fields and bad codes get 422 naming the field; a former province name is mapped."""
    _, key = await verified_org(http, server.operator_key)

    unknown = await http.post("/v1/offers", json=offer_body(colour="blue"), headers=bearer(key))
    problem = assert_problem(unknown, 422)
    assert problem["errors"][0]["field"] == "colour"

    cases = [({"trl": 12}, "trl"), ({"sector": "999"}, "sector"), ({"region": "Atlantis"}, "region")]
    for overrides, field in cases:
        response = await http.post("/v1/offers", json=offer_body(**overrides), headers=bearer(key))
        problem = assert_problem(response, 422)
        assert [e["field"] for e in problem["errors"]] == [field], problem

    mine = await http.get("/v1/offers", params={"mine": "true"}, headers=bearer(key))
    assert mine.json()["items"] == []

    former = await http.post("/v1/offers", json=offer_body(region="Bình Dương"), headers=bearer(key))
    assert former.status_code == 201, former.text
    assert former.json()["region"] == "79"


async def test_missing_and_bad_keys(http, server):
    """No key or a garbage key gets 401 problem details."""
    assert_problem(await http.post("/v1/offers", json=offer_body()), 401)
    assert_problem(await http.get("/v1/me"), 401)
    garbage = bearer("tmx_" + "x" * 43)
    assert_problem(await http.get("/v1/me", headers=garbage), 401)
    assert_problem(await http.post("/v1/offers", json=offer_body(), headers=garbage), 401)
    assert_problem(await http.get("/v1/me", headers={"Authorization": "Basic abc"}), 401)


async def test_member_roles(http, server):
    """A viewer reads its own listings but cannot write them; an editor creates."""
    registration, owner = await verified_org(http, server.operator_key)
    org_id = registration["organization"]["id"]
    draft = await create(http, owner)

    added = await http.post(
        f"/v1/organizations/{org_id}/members",
        json={"name": "Vien Viewer", "email": "viewer@example.vn", "role": "viewer"},
        headers=bearer(owner),
    )
    assert added.status_code == 201, added.text
    assert added.json()["member"]["role"] == "viewer"
    assert added.json()["member"]["org_id"] == org_id
    viewer = added.json()["api_key"]

    mine = await http.get("/v1/offers", params={"mine": "true"}, headers=bearer(viewer))
    assert mine.status_code == 200, mine.text
    assert [item["id"] for item in mine.json()["items"]] == [draft["id"]]
    assert mine.json()["items"][0]["status"] == "draft"

    assert_problem(await http.post("/v1/offers", json=offer_body(), headers=bearer(viewer)), 403)
    edit = await http.patch(f"/v1/offers/{draft['id']}", json={"title": "Viewer tries to edit"}, headers=bearer(viewer))
    assert_problem(edit, 403)
    assert (await http.get(f"/v1/offers/{draft['id']}", headers=bearer(owner))).json()["title"] == draft["title"]

    editor_added = await http.post(
        f"/v1/organizations/{org_id}/members",
        json={"name": "Vien Editor", "email": "editor@example.vn", "role": "editor"},
        headers=bearer(owner),
    )
    assert editor_added.status_code == 201, editor_added.text
    made = await http.post("/v1/offers", json=offer_body(), headers=bearer(editor_added.json()["api_key"]))
    assert made.status_code == 201, made.text
    assert made.json()["owner_org_id"] == org_id

    assert_problem(
        await http.post(
            f"/v1/organizations/{org_id}/members",
            json={"name": "Sneaky", "email": "s@example.vn", "role": "owner"},
            headers=bearer(viewer),
        ),
        403,
    )


async def test_revoked_keys_and_removed_members_stop_at_once(http, server):
    """A revoked key and a removed member's key get 401 on the very next request."""
    registration, owner = await verified_org(http, server.operator_key)
    org_id = registration["organization"]["id"]

    created = await http.post("/v1/api-keys", json={"name": "second"}, headers=bearer(owner))
    assert created.status_code == 201, created.text
    second = created.json()["api_key"]
    assert created.json()["name"] == "second"
    assert created.json()["revoked_at"] is None
    assert second.startswith(created.json()["prefix"])

    assert (await http.get("/v1/me", headers=bearer(second))).status_code == 200
    revoked = await http.delete(f"/v1/api-keys/{created.json()['id']}", headers=bearer(owner))
    assert revoked.status_code == 204, revoked.text
    assert_problem(await http.get("/v1/me", headers=bearer(second)), 401)
    assert (await http.get("/v1/me", headers=bearer(owner))).status_code == 200

    added = await http.post(
        f"/v1/organizations/{org_id}/members",
        json={"name": "Leaving Editor", "email": "leaving@example.vn", "role": "editor"},
        headers=bearer(owner),
    )
    assert added.status_code == 201, added.text
    leaving = added.json()["api_key"]
    assert (await http.get("/v1/me", headers=bearer(leaving))).status_code == 200
    removed = await http.delete(f"/v1/members/{added.json()['member']['id']}", headers=bearer(owner))
    assert removed.status_code == 204, removed.text
    assert_problem(await http.get("/v1/me", headers=bearer(leaving)), 401)
    assert_problem(await http.post("/v1/offers", json=offer_body(), headers=bearer(leaving)), 401)


async def test_drafts_never_leak(http, server):
    """Another organization's draft and pending listings are 404 and absent from the public list."""
    _, owner = await verified_org(http, server.operator_key)
    _, other = await verified_org(http, server.operator_key, "enterprise")
    draft = await create(http, owner)
    pending = await create(http, owner)
    await act(http, owner, pending["id"], "submit")

    for listing in (draft, pending):
        assert_problem(await http.get(f"/v1/offers/{listing['id']}"), 404)
        assert_problem(await http.get(f"/v1/offers/{listing['id']}", headers=bearer(other)), 404)
    anonymous = await public_ids(http)
    as_other = await public_ids(http, headers=bearer(other))
    for listing in (draft, pending):
        assert listing["id"] not in anonymous
        assert listing["id"] not in as_other
    other_mine = await http.get("/v1/offers", params={"mine": "true"}, headers=bearer(other))
    assert other_mine.json()["items"] == []


async def test_lifecycle_extras(http, server):
    """Reject with a reason, resubmit, withdraw, free and substantive edits, renew, invalid moves."""
    operator = server.operator_key
    _, owner = await verified_org(http, operator)
    _, other = await verified_org(http, operator, "enterprise")

    offer = await create(http, owner)
    refused = await http.post(f"/v1/offers/{offer['id']}/approve", headers=bearer(operator))
    assert "draft" in assert_problem(refused, 409)["detail"]

    await act(http, owner, offer["id"], "submit")
    no_reason = await http.post(f"/v1/offers/{offer['id']}/reject", json={}, headers=bearer(operator))
    assert assert_problem(no_reason, 422)["errors"][0]["field"] == "reason"
    assert_problem(await http.post(f"/v1/offers/{offer['id']}/reject", headers=bearer(operator)), 422)
    assert (await http.get(f"/v1/offers/{offer['id']}", headers=bearer(owner))).json()["status"] == "pending_review"
    rejected = await act(http, operator, offer["id"], "reject", json={"reason": "Thiếu số bằng sáng chế"})
    assert rejected["status"] == "rejected"
    owner_view = (await http.get(f"/v1/offers/{offer['id']}", headers=bearer(owner))).json()
    assert owner_view["rejection_reason"] == "Thiếu số bằng sáng chế"
    assert_problem(await http.get(f"/v1/offers/{offer['id']}"), 404)
    assert_problem(await http.get(f"/v1/offers/{offer['id']}", headers=bearer(other)), 404)

    edited = await http.patch(
        f"/v1/offers/{offer['id']}", json={"title": "Công nghệ MBR đã bổ sung bằng"}, headers=bearer(owner)
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "rejected"
    resubmitted = await act(http, owner, offer["id"], "submit")
    assert resubmitted["status"] == "pending_review"
    assert resubmitted["rejection_reason"] is None
    live = await act(http, operator, offer["id"], "approve")
    public = (await http.get(f"/v1/offers/{offer['id']}")).json()
    assert "rejection_reason" not in public

    repriced = await http.patch(
        f"/v1/offers/{offer['id']}", json={"price": {"amount": 900_000_000, "currency": "VND"}}, headers=bearer(owner)
    )
    assert repriced.status_code == 200, repriced.text
    assert repriced.json()["status"] == "published"
    assert repriced.json()["price"] == {"amount": 900_000_000, "currency": "VND"}
    assert repriced.json()["version"] == live["version"] + 1
    assert offer["id"] in await public_ids(http)

    renewed = await act(http, owner, offer["id"], "renew")
    assert renewed["status"] == "published"
    assert when(renewed["expires_at"]) > when(live["expires_at"])
    assert renewed["published_at"] == live["published_at"]

    retitled = await http.patch(
        f"/v1/offers/{offer['id']}", json={"title": "Công nghệ MBR thế hệ mới"}, headers=bearer(owner)
    )
    assert retitled.status_code == 200, retitled.text
    assert retitled.json()["status"] == "pending_review"
    assert_problem(await http.get(f"/v1/offers/{offer['id']}"), 404)
    assert offer["id"] not in await public_ids(http)

    second = await published(http, owner, operator)
    assert second["id"] in await public_ids(http)
    withdrawn = await act(http, owner, second["id"], "withdraw")
    assert withdrawn["status"] == "withdrawn"
    assert second["id"] not in await public_ids(http)
    assert_problem(await http.get(f"/v1/offers/{second['id']}"), 404)
    again = await http.post(f"/v1/offers/{second['id']}/renew", headers=bearer(owner))
    assert "withdrawn" in assert_problem(again, 409)["detail"]


async def test_demands(http, server):
    """An enterprise publishes a demand; an institute may not create one."""
    _, enterprise = await verified_org(http, server.operator_key, "enterprise")
    demand = await create(http, enterprise, "demands")
    assert demand["region"] == "92"
    assert demand["budget_max"] == {"amount": 2_000_000_000, "currency": "VND"}
    assert demand["deadline"] == "2027-06-30"
    submitted = await act(http, enterprise, demand["id"], "submit", "demands")
    assert submitted["status"] == "pending_review"
    approved = await act(http, server.operator_key, demand["id"], "approve", "demands")
    assert approved["status"] == "published"
    public = await http.get(f"/v1/demands/{demand['id']}")
    assert public.status_code == 200
    assert "contact" not in public.json()
    assert demand["id"] in await public_ids(http, "demands")

    _, institute = await verified_org(http, server.operator_key, "institute")
    refused = await http.post("/v1/demands", json=demand_body(), headers=bearer(institute))
    assert_problem(refused, 403)


async def test_request_ids_and_body_limit(http, server):
    """Every response carries X-Request-ID, a caller's is echoed, and bodies over 1 MiB get 413."""
    missing = await http.get(f"/v1/offers/{uuid.uuid4()}")
    assert_problem(missing, 404)
    for response in (await http.get("/health/live"), missing, await http.get("/v1/me")):
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,128}", response.headers.get("x-request-id", "")), response.headers
    ids = {(await http.get("/health/live")).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3

    echoed = await http.get("/v1/me", headers={"X-Request-ID": "e2e-trace-42"})
    assert echoed.status_code == 401
    assert echoed.headers["x-request-id"] == "e2e-trace-42"

    _, key = await verified_org(http, server.operator_key)
    huge = offer_body(description="x" * (1024 * 1024 + 10))
    too_big = await http.post("/v1/offers", json=huge, headers=bearer(key))
    assert_problem(too_big, 413)
    assert too_big.headers["x-request-id"]
    mine = await http.get("/v1/offers", params={"mine": "true"}, headers=bearer(key))
    assert mine.json()["items"] == []


async def test_pagination(http, server):
    """limit=2 walks three published offers with next_cursor; bad limits and cursors get 400."""
    _, key = await verified_org(http, server.operator_key)
    made = {(await published(http, key, server.operator_key, region="04"))["id"] for _ in range(3)}

    seen: list[str] = []
    first = await http.get("/v1/offers", params={"limit": 2, "region": "04"})
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 2
    assert isinstance(first.json()["next_cursor"], str)
    seen.extend(item["id"] for item in first.json()["items"])
    second = await http.get("/v1/offers", params={"limit": 2, "region": "04", "cursor": first.json()["next_cursor"]})
    assert second.status_code == 200, second.text
    assert len(second.json()["items"]) == 1
    assert second.json()["next_cursor"] is None
    seen.extend(item["id"] for item in second.json()["items"])
    assert len(seen) == len(set(seen)) == 3
    assert set(seen) == made

    everything = await public_ids(http)
    assert len(everything) == len(set(everything))
    assert made <= set(everything)

    assert_problem(await http.get("/v1/offers", params={"limit": 101}), 400)
    assert_problem(await http.get("/v1/offers", params={"limit": 0}), 400)
    assert_problem(await http.get("/v1/offers", params={"cursor": "not-a-cursor!"}), 400)
    assert_problem(await http.get("/v1/offers", params={"cursor": "bm9wZQ"}), 400)


async def test_idempotency_key(http, server):
    """The same key and body give the first response; the same key with another body gets 409."""
    _, key = await verified_org(http, server.operator_key)
    headers = bearer(key) | {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}
    first = await http.post("/v1/offers", json=offer_body(), headers=headers)
    assert first.status_code == 201, first.text
    retry = await http.post("/v1/offers", json=offer_body(), headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json() == first.json()

    mine = await http.get("/v1/offers", params={"mine": "true"}, headers=bearer(key))
    assert [item["id"] for item in mine.json()["items"]] == [first.json()["id"]]

    other_body = await http.post("/v1/offers", json=offer_body(title="Một tiêu đề hoàn toàn khác"), headers=headers)
    assert_problem(other_body, 409)
    mine = await http.get("/v1/offers", params={"mine": "true"}, headers=bearer(key))
    assert len(mine.json()["items"]) == 1

    fresh = await http.post(
        "/v1/offers", json=offer_body(), headers=bearer(key) | {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}
    )
    assert fresh.status_code == 201
    assert fresh.json()["id"] != first.json()["id"]


def normalized_path(path: str) -> str:
    """A path with every parameter named {id} and no trailing slash."""
    return re.sub(r"\{[^}]+\}", "{id}", path).rstrip("/") or "/"


async def test_docs_and_health(http, server):
    """The OpenAPI document covers the contract; docs and health checks answer."""
    response = await http.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    doc = response.json()
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"]), doc["openapi"]
    paths = {normalized_path(p): {m.lower() for m in ops} for p, ops in doc["paths"].items()}
    expected = {
        "/v1/organizations": {"post"},
        "/v1/organizations/{id}": {"get", "patch"},
        "/v1/organizations/{id}/verify": {"post"},
        "/v1/organizations/{id}/members": {"post", "get"},
        "/v1/members/{id}": {"delete"},
        "/v1/api-keys": {"post"},
        "/v1/api-keys/{id}": {"delete"},
        "/v1/me": {"get"},
        "/v1/taxonomy": {"get"},
    }
    for kind in ("offers", "demands"):
        expected[f"/v1/{kind}"] = {"post", "get"}
        expected[f"/v1/{kind}/{{id}}"] = {"get", "patch"}
        for action in ("submit", "withdraw", "renew", "approve", "reject"):
            expected[f"/v1/{kind}/{{id}}/{action}"] = {"post"}
    for path, methods in expected.items():
        assert path in paths, f"{path} missing from the OpenAPI document"
        assert methods <= paths[path], f"{path}: {methods - paths[path]} missing"

    scheme = doc["components"]["securitySchemes"]["BearerAuth"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    create_path = next(p for p in doc["paths"] if normalized_path(p) == "/v1/offers")
    responses = doc["paths"][create_path]["post"]["responses"]
    assert {"401", "403", "422"} <= set(responses)
    assert {"BearerAuth": []} in doc["paths"][create_path]["post"]["security"]

    docs = await http.get("/schema")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "<html" in docs.text.lower()

    live = await http.get("/health/live")
    assert live.status_code == 200
    assert live.json()["status"] == "ok"
    ready = await http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ok"
    checks = {c["name"]: c["ok"] for c in ready.json()["checks"]}
    assert checks == {"database": True, "search": True, "background jobs": True, "payments": True}


async def test_taxonomy(http, server):
    """The lists have their official sizes and both languages."""
    response = await http.get("/v1/taxonomy")
    assert response.status_code == 200, response.text
    taxonomy = response.json()
    assert len(taxonomy["sectors"]) == 46
    assert len(taxonomy["provinces"]) == 34
    assert len(taxonomy["strategic_groups"]) == 10
    assert [level["level"] for level in taxonomy["trl_levels"]] == list(range(1, 10))
    for name in ("fields", "sectors", "strategic_groups", "trl_levels", "transfer_modes", "ip_statuses", "provinces"):
        assert taxonomy[name], name
        for item in taxonomy[name]:
            assert isinstance(item["vi"], str) and item["vi"].strip(), (name, item)
            assert isinstance(item["en"], str) and item["en"].strip(), (name, item)
    assert {m["code"] for m in taxonomy["transfer_modes"]} == {
        "license",
        "assignment",
        "capital_contribution",
        "joint_venture",
        "rnd_cooperation",
        "consulting",
        "equipment_sale",
    }
    assert {s["code"] for s in taxonomy["ip_statuses"]} == {
        "patent_granted",
        "patent_pending",
        "utility_solution",
        "know_how",
        "none",
    }
    binh_duong = next(p for p in taxonomy["provinces"] if p["code"] == "79")
    assert "Bình Dương" in binh_duong["former"]


async def test_request_id_on_unrouted_paths(http, server):
    """Responses the router gives itself (unknown path, wrong method) also carry X-Request-ID."""
    unknown = await http.get("/v1/no-such-collection", headers={"X-Request-ID": "e2e-unrouted-1"})
    assert_problem(unknown, 404)
    wrong_method = await http.delete("/v1/taxonomy", headers={"X-Request-ID": "e2e-unrouted-2"})
    assert_problem(wrong_method, 405)
    echoed = (unknown.headers.get("x-request-id"), wrong_method.headers.get("x-request-id"))
    assert echoed == ("e2e-unrouted-1", "e2e-unrouted-2")
