"""The operators' desk over real HTTP: from a registration to a suspension, each step in the audit trail."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.support import bearer, offer_body

WAIT_SECONDS = 20.0


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON body of a response that must have this status."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    return response.json()


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll check() until it returns something truthy."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WAIT_SECONDS:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)
    return result


async def find_in_queue(http: httpx.AsyncClient, key: str, path: str, params: dict, wanted: str) -> dict[str, Any]:
    """Page through an operator queue until the item with this id turns up."""
    cursor = None
    while True:
        page = ok(await http.get(path, params=params | ({"cursor": cursor} if cursor else {}), headers=bearer(key)))
        for item in page["items"]:
            if item["id"] == wanted:
                return item
        if not (cursor := page["next_cursor"]):
            raise AssertionError(f"{wanted} is not in {path} {params}")


async def searchable(http: httpx.AsyncClient, title: str, listing_id: str) -> bool:
    """Whether a search for the title finds the listing."""
    hits = ok(await http.get("/v1/search/offers", params={"q": title, "limit": 50}))["hits"]
    return any(h["listing"]["id"] == listing_id for h in hits)


async def test_register_verify_approve_suspend_and_the_audit_trail_shows_each_step(http, server):
    admin = server.operator_key
    tag = uuid.uuid4().hex[:10]
    made = ok(
        await http.post(
            "/v1/operators",
            json={"email": f"reviewer-{tag}@exchange.example.vn", "name": "Desk reviewer", "role": "reviewer"},
            headers=bearer(admin),
        ),
        201,
    )
    reviewer, reviewer_id = made["api_key"], made["operator"]["id"]

    # An organization registers and waits in the verification queue, found by its tax code.
    tax_code = str(int(tag[:8], 16) % 10**10).zfill(10)
    registered = ok(
        await http.post(
            "/v1/organizations",
            json={
                "name": f"Desk journey institute {tag}",
                "kind": "institute",
                "province": "79",
                "contact_email": f"desk-{tag}@institute.example.vn",
                "tax_code": tax_code,
            },
        ),
        201,
    )
    org_id, owner = registered["organization"]["id"], registered["api_key"]
    queue = ok(
        await http.get(
            "/v1/organizations", params={"status": "pending_verification", "q": tax_code}, headers=bearer(reviewer)
        )
    )
    assert [o["id"] for o in queue["items"]] == [org_id]
    verify = await http.post(f"/v1/organizations/{org_id}/verify", headers=bearer(reviewer))
    assert ok(verify)["status"] == "verified"

    # Its offer waits in the review queue with its submission time, and is approved.
    title = f"Desk journey membrane bioreactor {tag}"
    offer = ok(await http.post("/v1/offers", json=offer_body(title=title), headers=bearer(owner)), 201)
    ok(await http.post(f"/v1/offers/{offer['id']}/submit", headers=bearer(owner)))
    queued = await find_in_queue(http, reviewer, "/v1/offers", {"status": "pending_review", "limit": 100}, offer["id"])
    assert queued["status"] == "pending_review" and queued["submitted_at"]
    approve = await http.post(f"/v1/offers/{offer['id']}/approve", headers=bearer(reviewer))
    assert ok(approve)["status"] == "published"
    await until(lambda: searchable(http, title, offer["id"]), "the approved offer in search")
    assert (await http.get(f"/v1/offers/{offer['id']}")).status_code == 200

    # A reviewer may not suspend; an admin does, and the offer leaves the listing reads and search.
    reason = {"reason": "The tax code belongs to another company"}
    refused = await http.post(f"/v1/organizations/{org_id}/suspend", json=reason, headers=bearer(reviewer))
    assert refused.status_code == 403
    suspend = await http.post(f"/v1/organizations/{org_id}/suspend", json=reason, headers=bearer(admin))
    assert ok(suspend)["status"] == "suspended"
    for _ in range(4):  # two worker processes: whichever answers has dropped its copy
        assert (await http.get(f"/v1/offers/{offer['id']}")).status_code == 404
    await until(
        lambda: _not(searchable(http, title, offer["id"])), "the suspended organization's offer to leave search"
    )
    assert (await http.post("/v1/offers", json=offer_body(), headers=bearer(owner))).status_code == 403
    assert ok(await http.get("/v1/me", headers=bearer(owner)))["organization"]["status"] == "suspended"

    # The audit trail shows each step, with who acted and the request each came from.
    trail = ok(await http.get("/v1/audit", params={"subject": org_id}, headers=bearer(admin)))["items"]
    assert [(e["action"], e["actor_id"]) for e in trail] == [
        ("verify", reviewer_id),
        ("suspend", trail[-1]["actor_id"]),
    ]
    assert trail[0]["request_id"] == verify.headers["x-request-id"]
    assert trail[1]["request_id"] == suspend.headers["x-request-id"] and trail[1]["reason"] == reason["reason"]
    assert trail[1]["actor_role"] == "admin"
    approved = ok(await http.get("/v1/audit", params={"subject": offer["id"]}, headers=bearer(admin)))["items"]
    assert [(e["action"], e["actor_id"], e["request_id"]) for e in approved] == [
        ("approve", reviewer_id, approve.headers["x-request-id"])
    ]
    registration_key = registered["api_key_id"]
    created = ok(await http.get("/v1/audit", params={"subject": registration_key}, headers=bearer(admin)))["items"]
    assert [e["action"] for e in created] == ["key_create"]
    by_reviewer = ok(await http.get("/v1/audit", params={"actor": reviewer_id}, headers=bearer(admin)))["items"]
    assert [e["action"] for e in by_reviewer] == ["verify", "approve"]
    assert (await http.get("/v1/audit", headers=bearer(reviewer))).status_code == 403


async def _not(check: Awaitable[bool]) -> bool:
    return not await check
