"""The operators' desk against the real stack: queues, operators and their roles, suspension and the audit trail."""

import uuid

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from exchange.app import create_app
from exchange.kernel import db
from tests.conftest import clone_database, drop_database
from tests.matching.waiting import ids, search_until, visible
from tests.support import (
    bearer,
    demand_body,
    offer_body,
    operator_key,
    published,
    published_offer,
    register,
    verified_org,
)


def uid(value: str) -> uuid.UUID:
    """An id of a response as the database takes it."""
    return uuid.UUID(value)


def offer_body_for(key: str) -> dict:
    """An offer with a title of its own."""
    return offer_body(title=f"Offer {key[-6:]} {uuid.uuid4().hex[:6]}")


# --- the verification queue -----------------------------------------------------------------------------------------


async def test_organizations_queue_is_oldest_first_searchable_and_paged(client, conn):
    operator = await operator_key(conn)
    first, _ = await register(client, name="Viện Công nghệ Sinh học Alpha", tax_code="0101234567")
    second, _ = await register(client, contact_email="hello@beta-lab.example.vn")
    third, _ = await register(client, owner_email="owner@gamma.example.vn")
    verified, _ = await verified_org(client, operator)
    # Registrations one after another can share a clock tick: fix their order so "oldest first" is what is tested.
    for days, org in enumerate((third, second, first), start=1):
        await conn.execute(
            "UPDATE organizations SET created_at = now() - make_interval(days => $2) WHERE id = $1",
            uid(org["organization"]["id"]),
            days,
        )

    async def listed(**params) -> list[str]:
        response = await client.get("/v1/organizations", params=params, headers=bearer(operator))
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["items"]]

    pending = [first, second, third]
    assert await listed(status="pending_verification") == [o["organization"]["id"] for o in pending]
    assert await listed(status="verified") == [verified["organization"]["id"]]
    assert await listed(q="sinh HỌC alpha") == [first["organization"]["id"]]
    assert await listed(q="01012345") == [first["organization"]["id"]]
    assert await listed(q="BETA-LAB") == [second["organization"]["id"]]
    assert await listed(q="owner@gamma") == [third["organization"]["id"]]
    assert await listed(q="%") == []  # a wildcard is a character like any other
    assert await listed(status="suspended") == []

    walked, cursor = [], None
    while True:
        params = {"status": "pending_verification", "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/organizations", params=params, headers=bearer(operator))).json()
        walked += [o["id"] for o in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert walked == [o["organization"]["id"] for o in pending]

    for params, field in (({"status": "asleep"}, "status"), ({"q": "nul\x00"}, "q"), ({"cursor": "zz"}, "cursor")):
        bad = await client.get("/v1/organizations", params=params, headers=bearer(operator))
        assert bad.status_code == 400, bad.text
        assert field in bad.json()["detail"]
    _, member = await register(client)
    assert (await client.get("/v1/organizations", headers=bearer(member))).status_code == 403
    assert (await client.get("/v1/organizations")).status_code == 401


# --- the review queue -----------------------------------------------------------------------------------------------


async def test_review_queue_lists_every_organizations_listings_oldest_submission_first(client, conn):
    operator = await operator_key(conn)
    reviewer = await operator_key(conn, "reviewer@exchange.example.vn", "reviewer")
    _, one = await verified_org(client, operator)
    _, other = await verified_org(client, operator, "enterprise")
    submitted = []
    for key in (one, other, one):
        created = (await client.post("/v1/offers", json=offer_body_for(key), headers=bearer(key))).json()
        assert (await client.post(f"/v1/offers/{created['id']}/submit", headers=bearer(key))).status_code == 200
        submitted.append(created["id"])
    draft = (await client.post("/v1/offers", json=offer_body_for(one), headers=bearer(one))).json()
    demand = (await client.post("/v1/demands", json=demand_body(), headers=bearer(other))).json()
    assert (await client.post(f"/v1/demands/{demand['id']}/submit", headers=bearer(other))).status_code == 200
    # Submission times made explicit, the first created submitted last: the queue cannot be creation order.
    for hours, listing_id in enumerate(submitted, start=1):
        await conn.execute(
            "UPDATE listings SET submitted_at = now() - make_interval(hours => $2) WHERE id = $1",
            uid(listing_id),
            hours,
        )
    expected = list(reversed(submitted))

    response = await client.get("/v1/offers", params={"status": "pending_review"}, headers=bearer(reviewer))
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["id"] for i in items] == expected
    assert all(i["status"] == "pending_review" and i["submitted_at"] for i in items)
    assert draft["id"] not in [i["id"] for i in items]
    assert len({i["owner_org_id"] for i in items}) == 2

    walked, cursor = [], None
    while True:
        params = {"status": "pending_review", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/offers", params=params, headers=bearer(reviewer))).json()
        walked += [i["id"] for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert walked == expected

    demands = await client.get("/v1/demands", params={"status": "pending_review"}, headers=bearer(reviewer))
    assert [d["id"] for d in demands.json()["items"]] == [demand["id"]]
    drafts = await client.get("/v1/offers", params={"status": "draft"}, headers=bearer(reviewer))
    assert [d["id"] for d in drafts.json()["items"]] == [draft["id"]]
    # Members still list only their own listings by status, with mine=true.
    refused = await client.get("/v1/offers", params={"status": "pending_review"}, headers=bearer(one))
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "mine"


# --- operators and their roles --------------------------------------------------------------------------------------


async def test_admins_add_list_and_remove_operators_whose_keys_stop_at_once(client, conn):
    admin = await operator_key(conn)
    made = await client.post(
        "/v1/operators",
        json={"email": "reviewer@exchange.example.vn", "name": "Ms Reviewer", "role": "reviewer"},
        headers=bearer(admin),
    )
    assert made.status_code == 201, made.text
    operator, key = made.json()["operator"], made.json()["api_key"]
    assert operator["role"] == "reviewer" and key.startswith("tmx_")
    me = (await client.get("/v1/me", headers=bearer(key))).json()
    assert me["role"] == "operator" and me["operator_role"] == "reviewer"
    # A reviewer may verify but not touch the fee schedule.
    data, _ = await register(client)
    verified = await client.post(f"/v1/organizations/{data['organization']['id']}/verify", headers=bearer(key))
    assert verified.status_code == 200

    listed = (await client.get("/v1/operators", headers=bearer(admin))).json()["items"]
    assert {(o["email"], o["role"]) for o in listed} == {
        ("ops@exchange.example.vn", "admin"),
        ("reviewer@exchange.example.vn", "reviewer"),
    }
    again = await client.post(
        "/v1/operators",
        json={"email": "REVIEWER@exchange.example.vn", "name": "Twin", "role": "finance"},
        headers=bearer(admin),
    )
    assert again.status_code == 409
    missing = await client.post(
        "/v1/operators", json={"email": "x@exchange.example.vn", "name": "No role"}, headers=bearer(admin)
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "role"

    assert (await client.delete(f"/v1/operators/{operator['id']}", headers=bearer(admin))).status_code == 204
    assert (await client.get("/v1/me", headers=bearer(key))).status_code == 401
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM api_keys WHERE member_id = $1 AND revoked_at IS NULL", uid(operator["id"])
        )
        == 0
    )
    admin_id = (await client.get("/v1/me", headers=bearer(admin))).json()["member"]["id"]
    last = await client.delete(f"/v1/operators/{admin_id}", headers=bearer(admin))
    assert last.status_code == 409 and "admin" in last.json()["detail"]


async def test_operators_from_before_roles_and_the_bootstrap_key_are_admins(stack, template_database, settings):
    url = await clone_database(stack, "template0")
    try:
        conn = await db.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for name, sql in db.migration_files():
                if name < "0010":
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            await conn.execute(
                "INSERT INTO members (org_id, name, email, role) VALUES (NULL, 'Old hand', 'old@x.vn', 'operator')"
            )
            await db.migrate(conn)
            assert await conn.fetchval("SELECT operator_role FROM members WHERE email = 'old@x.vn'") == "admin"
            with pytest.raises(asyncpg.CheckViolationError):
                await conn.execute(
                    "INSERT INTO members (org_id, name, email, role) VALUES (NULL, 'No role', 'norole@x.vn', 'operator')"
                )
        finally:
            await conn.close()
    finally:
        await drop_database(stack, url)

    bootstrap = "bootstrap-" + uuid.uuid4().hex * 2
    async with AsyncTestClient(
        create_app(msgspec.structs.replace(settings, operator_bootstrap_key=bootstrap))
    ) as client:
        me = (await client.get("/v1/me", headers=bearer(bootstrap))).json()
        assert me["role"] == "operator" and me["operator_role"] == "admin"
        listed = await client.get("/v1/operators", headers=bearer(bootstrap))
        assert listed.status_code == 200


# --- suspension -----------------------------------------------------------------------------------------------------


async def test_suspension_takes_listings_out_of_publication_and_search_and_blocks_writes(client, conn):
    admin = await operator_key(conn)
    org, owner = await verified_org(client, admin, "enterprise")
    org_id = org["organization"]["id"]
    offer = await published_offer(client, owner, admin)
    demand = await published(client, "demand", owner, admin, demand_body())
    await visible(client, "offer", offer["id"])
    await visible(client, "demand", demand["id"])
    # Read anonymously first, so each process holds its copy of the stored public JSON.
    assert (await client.get(f"/v1/offers/{offer['id']}")).status_code == 200
    assert offer["id"] in [o["id"] for o in (await client.get("/v1/offers")).json()["items"]]
    _, buyer = await verified_org(client, admin, "enterprise", name="Buyer of things")
    interest = await client.post(
        f"/v1/offers/{offer['id']}/interests", json={"message": "We want to license it."}, headers=bearer(buyer)
    )
    assert interest.status_code == 201, interest.text

    for body in (None, {}, {"reason": ""}):
        refused = await client.post(f"/v1/organizations/{org_id}/suspend", json=body, headers=bearer(admin))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "reason"
    assert await conn.fetchval("SELECT status FROM organizations WHERE id = $1", uid(org_id)) == "verified"

    suspended = await client.post(
        f"/v1/organizations/{org_id}/suspend", json={"reason": "Forged patent certificates"}, headers=bearer(admin)
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    assert suspended.json()["suspension_reason"] == "Forged patent certificates"
    assert (await client.get(f"/v1/offers/{offer['id']}")).status_code == 404
    assert (await client.get(f"/v1/demands/{demand['id']}")).status_code == 404
    assert offer["id"] not in [o["id"] for o in (await client.get("/v1/offers")).json()["items"]]
    await search_until(client, "offer", {"limit": 100}, lambda b: offer["id"] not in ids(b))
    await search_until(client, "demand", {"limit": 100}, lambda b: demand["id"] not in ids(b))
    stored = await conn.fetchrow("SELECT status, public_body FROM listings WHERE id = $1", uid(offer["id"]))
    assert stored["status"] == "suspended" and stored["public_body"] is None
    again = await client.post(f"/v1/organizations/{org_id}/suspend", json={"reason": "Twice"}, headers=bearer(admin))
    assert again.status_code == 409

    # Its keys read its own things but write nothing.
    assert (await client.get("/v1/me", headers=bearer(owner))).status_code == 200
    mine = (await client.get("/v1/offers", params={"mine": "true"}, headers=bearer(owner))).json()["items"]
    assert [(o["id"], o["status"]) for o in mine] == [(offer["id"], "suspended")]
    for method, path, body in (
        ("POST", "/v1/offers", offer_body_for(owner)),
        ("PATCH", f"/v1/organizations/{org_id}", {"website": "https://example.vn"}),
        ("POST", "/v1/api-keys", {"name": "another"}),
        ("POST", f"/v1/offers/{offer['id']}/withdraw", None),
    ):
        refused = await client.request(method, path, json=body, headers=bearer(owner))
        assert refused.status_code == 403, (path, refused.text)
        assert "suspended" in refused.json()["detail"]
    # Open interests stay as they were, for the operators to settle.
    assert await conn.fetchval("SELECT status FROM interests WHERE id = $1", uid(interest.json()["id"])) == "pending"

    # Reinstating: the unexpired listings come back, an expired one stays out.
    await conn.execute("UPDATE listings SET expires_at = now() - interval '1 day' WHERE id = $1", uid(demand["id"]))
    missing = await client.post(f"/v1/organizations/{org_id}/reinstate", headers=bearer(admin))
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reason"
    back = await client.post(
        f"/v1/organizations/{org_id}/reinstate", json={"reason": "Certificates checked"}, headers=bearer(admin)
    )
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "verified" and back.json()["suspension_reason"] is None
    assert (await client.get(f"/v1/offers/{offer['id']}")).json()["status"] == "published"
    assert (await client.get(f"/v1/demands/{demand['id']}")).status_code == 404
    assert await conn.fetchval("SELECT status FROM listings WHERE id = $1", uid(demand["id"])) == "expired"
    await visible(client, "offer", offer["id"])
    assert (await client.post("/v1/api-keys", json={}, headers=bearer(owner))).status_code == 201

    actions = await conn.fetch("SELECT action, reason FROM audit_log WHERE subject_id = $1 ORDER BY created_at", org_id)
    assert [(a["action"], a["reason"]) for a in actions][-2:] == [
        ("suspend", "Forged patent certificates"),
        ("reinstate", "Certificates checked"),
    ]


async def test_a_suspended_organization_pending_verification_returns_to_it(client, conn):
    admin = await operator_key(conn)
    data, _ = await register(client)
    org_id = data["organization"]["id"]
    body = {"reason": "Reported as a shell company"}
    assert (
        await client.post(f"/v1/organizations/{org_id}/suspend", json=body, headers=bearer(admin))
    ).status_code == 200
    verify = await client.post(f"/v1/organizations/{org_id}/verify", headers=bearer(admin))
    assert verify.status_code == 409
    suspended = await client.get("/v1/organizations", params={"status": "suspended"}, headers=bearer(admin))
    assert [o["id"] for o in suspended.json()["items"]] == [org_id]
    back = await client.post(f"/v1/organizations/{org_id}/reinstate", json=body, headers=bearer(admin))
    assert back.json()["status"] == "pending_verification"
    public = (await client.get(f"/v1/organizations/{org_id}")).json()
    assert "suspension_reason" not in public


# --- the audit trail ------------------------------------------------------------------------------------------------


async def test_audit_trail_records_who_did_what_with_the_request_id(client, conn):
    admin = await operator_key(conn)
    reviewer = await operator_key(conn, "reviewer@exchange.example.vn", "reviewer")
    reviewer_id = (await client.get("/v1/me", headers=bearer(reviewer))).json()["member"]["id"]
    data, owner = await register(client)
    org_id = data["organization"]["id"]
    verified = await client.post(
        f"/v1/organizations/{org_id}/verify", headers={**bearer(reviewer), "X-Request-ID": "desk-verify-1"}
    )
    assert verified.status_code == 200
    created = (await client.post("/v1/offers", json=offer_body_for(owner), headers=bearer(owner))).json()
    await client.post(f"/v1/offers/{created['id']}/submit", headers=bearer(owner))
    rejected = await client.post(
        f"/v1/offers/{created['id']}/reject", json={"reason": "Describe the advantages"}, headers=bearer(reviewer)
    )
    assert rejected.status_code == 200

    async def trail(**params) -> list[dict]:
        response = await client.get("/v1/audit", params=params, headers=bearer(admin))
        assert response.status_code == 200, response.text
        return response.json()["items"]

    by_reviewer = await trail(actor=reviewer_id)
    assert [(e["action"], e["subject_type"], e["subject_id"]) for e in by_reviewer] == [
        ("verify", "organization", org_id),
        ("reject", "offer", created["id"]),
    ]
    verify_entry = (await trail(action="verify"))[0]
    assert verify_entry["actor_id"] == reviewer_id and verify_entry["actor_role"] == "reviewer"
    assert verify_entry["request_id"] == "desk-verify-1" == verified.headers["x-request-id"]
    reject_entry = (await trail(subject=created["id"]))[0]
    assert reject_entry["reason"] == "Describe the advantages"
    assert reject_entry["request_id"] == rejected.headers["x-request-id"]
    assert await trail(since="2999-01-01T00:00:00Z") == []
    for params in ({"actor": "someone"}, {"subject": "nul\x00"}, {"since": "yesterday"}):
        bad = await client.get("/v1/audit", params=params, headers=bearer(admin))
        assert bad.status_code == 400, bad.text
        assert next(iter(params)) in bad.json()["detail"]
    assert len(await trail(action="key_create")) == 3  # the two operators' and the registration's

    first = (await client.get("/v1/audit", params={"limit": 1}, headers=bearer(admin))).json()
    rest = (await client.get("/v1/audit", params={"cursor": first["next_cursor"]}, headers=bearer(admin))).json()
    everything = await trail(limit=100)
    assert [e["id"] for e in first["items"] + rest["items"]] == [e["id"] for e in everything]
    assert (await client.get("/v1/audit", headers=bearer(reviewer))).status_code == 403


async def test_audit_entries_cannot_be_changed_or_deleted(client, conn):
    admin = await operator_key(conn)
    data, _ = await register(client)
    await client.post(f"/v1/organizations/{data['organization']['id']}/verify", headers=bearer(admin))
    assert await conn.fetchval("SELECT count(*) FROM audit_log") >= 1
    for sql in (
        "UPDATE audit_log SET reason = 'rewritten'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(sql)
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE reason = 'rewritten'") == 0


async def test_a_failed_action_leaves_no_audit_entry(client, conn):
    admin = await operator_key(conn)
    _, owner = await register(client)  # never verified: its listings cannot be approved
    created = (await client.post("/v1/offers", json=offer_body_for(owner), headers=bearer(owner))).json()
    await client.post(f"/v1/offers/{created['id']}/submit", headers=bearer(owner))
    refused = await client.post(f"/v1/offers/{created['id']}/approve", headers=bearer(admin))
    assert refused.status_code == 409
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'approve'") == 0


async def test_no_key_secret_or_hash_is_ever_written_to_the_audit_trail(client, conn):
    admin = await operator_key(conn)
    data, owner = await register(client)
    made = (
        await client.post(
            "/v1/operators",
            json={"email": "finance@exchange.example.vn", "name": "Finance", "role": "finance"},
            headers=bearer(admin),
        )
    ).json()
    extra = (await client.post("/v1/api-keys", json={"name": "ci"}, headers=bearer(owner))).json()
    member = (
        await client.post(
            f"/v1/organizations/{data['organization']['id']}/members",
            json={"name": "An editor", "email": "editor@member.example.vn", "role": "editor"},
            headers=bearer(owner),
        )
    ).json()
    assert (await client.delete(f"/v1/api-keys/{extra['id']}", headers=bearer(owner))).status_code == 204
    secrets = [admin, owner, made["api_key"], extra["api_key"], member["api_key"]]
    hashes = await conn.fetch("SELECT key_hash FROM api_keys")
    actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit_log")]
    assert actions.count("key_create") == 5 and actions.count("key_revoke") == 1
    everything = await conn.fetchval("SELECT string_agg(a::text, ' ') FROM audit_log a")
    for secret in secrets:
        assert secret not in everything and secret[4:] not in everything
    for row in hashes:
        digest = bytes(row["key_hash"])
        assert digest.hex() not in everything and digest.hex().upper() not in everything
    served = (await client.get("/v1/audit", params={"limit": 100}, headers=bearer(admin))).text
    assert not any(secret in served for secret in secrets)
