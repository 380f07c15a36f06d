"""Organizations, members and keys against the real database."""

import hashlib

from litestar.testing import AsyncTestClient

from exchange.app import create_app
from tests.support import bearer, operator_key, register, verified_org


async def test_registration_stores_only_the_key_hash(client, conn):
    data, key = await register(client, "institute", tax_code="0101234567")
    assert key.startswith("tmx_") and len(key) > 40
    assert data["organization"]["status"] == "pending_verification"
    assert data["member"]["role"] == "owner"
    stored = await conn.fetch("SELECT key_hash, prefix FROM api_keys")
    assert len(stored) == 1
    assert bytes(stored[0]["key_hash"]) == hashlib.sha256(key.encode()).digest()
    assert key not in str([dict(r) for r in stored])
    everything = await conn.fetchval("SELECT string_agg(t::text, ' ') FROM api_keys t")
    assert key not in everything


async def test_former_province_name_is_mapped_and_unknown_is_422(client):
    data, _ = await register(client, "enterprise", province="Bà Rịa - Vũng Tàu")
    assert data["organization"]["province"] == "79"
    response = await client.post(
        "/v1/organizations",
        json={"name": "Nowhere Ltd", "kind": "enterprise", "province": "Atlantis", "contact_email": "a@b.vn"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "province"


async def test_duplicate_tax_code_is_409_and_creates_nothing(client, conn):
    await register(client, "enterprise", tax_code="0301234567")
    before = await conn.fetchval("SELECT count(*) FROM organizations")
    response = await client.post(
        "/v1/organizations",
        json={
            "name": "Copycat",
            "kind": "enterprise",
            "province": "01",
            "contact_email": "c@c.vn",
            "tax_code": "0301234567",
        },
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await conn.fetchval("SELECT count(*) FROM organizations") == before
    assert await conn.fetchval("SELECT count(*) FROM members") == 1


async def test_verification_by_operator_only_and_once(client, conn):
    operator = await operator_key(conn)
    data, owner = await register(client)
    org_id = data["organization"]["id"]
    assert (await client.post(f"/v1/organizations/{org_id}/verify", headers=bearer(owner))).status_code == 403
    assert (await client.post(f"/v1/organizations/{org_id}/verify")).status_code == 401
    rejected = await client.post(
        f"/v1/organizations/{org_id}/verify", json={"decision": "reject"}, headers=bearer(operator)
    )
    assert rejected.status_code == 422
    assert rejected.json()["errors"][0]["field"] == "reason"
    ok = await client.post(f"/v1/organizations/{org_id}/verify", json={"decision": "verify"}, headers=bearer(operator))
    assert ok.status_code == 200
    assert ok.json()["status"] == "verified" and ok.json()["verified_at"]
    again = await client.post(f"/v1/organizations/{org_id}/verify", headers=bearer(operator))
    assert again.status_code == 409
    assert "verified" in again.json()["detail"]


async def test_rejected_reason_is_private_and_edit_asks_again(client, conn):
    operator = await operator_key(conn)
    data, owner = await register(client)
    org_id = data["organization"]["id"]
    decision = {"decision": "reject", "reason": "Tax code does not match the registry"}
    assert (
        await client.post(f"/v1/organizations/{org_id}/verify", json=decision, headers=bearer(operator))
    ).status_code == 200
    public = (await client.get(f"/v1/organizations/{org_id}")).json()
    assert public["status"] == "rejected" and "rejection_reason" not in public
    own = (await client.get(f"/v1/organizations/{org_id}", headers=bearer(owner))).json()
    assert own["rejection_reason"] == decision["reason"]
    edited = await client.patch(f"/v1/organizations/{org_id}", json={"tax_code": "0109999999"}, headers=bearer(owner))
    assert edited.status_code == 200
    assert edited.json()["status"] == "pending_verification"


async def test_renaming_a_verified_org_needs_verification_again_but_website_does_not(client, conn):
    operator = await operator_key(conn)
    data, owner = await verified_org(client, operator)
    org_id = data["organization"]["id"]
    site = await client.patch(
        f"/v1/organizations/{org_id}", json={"website": "https://vien.example.vn"}, headers=bearer(owner)
    )
    assert site.json()["status"] == "verified"
    renamed = await client.patch(f"/v1/organizations/{org_id}", json={"name": "Viện Mới"}, headers=bearer(owner))
    assert renamed.json()["status"] == "pending_verification"
    assert renamed.json()["version"] == site.json()["version"] + 1


async def test_stale_if_match_on_profile_changes_nothing(client):
    data, owner = await register(client)
    org_id = data["organization"]["id"]
    current = await client.get(f"/v1/organizations/{org_id}")
    stale = await client.patch(
        f"/v1/organizations/{org_id}",
        json={"website": "https://x.example.vn"},
        headers={**bearer(owner), "If-Match": '"999"'},
    )
    assert stale.status_code == 412
    after = await client.get(f"/v1/organizations/{org_id}")
    assert after.json() == current.json()
    fresh = await client.patch(
        f"/v1/organizations/{org_id}",
        json={"website": "https://x.example.vn"},
        headers={**bearer(owner), "If-Match": current.headers["etag"]},
    )
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == f'"{current.json()["version"] + 1}"'


async def test_members_roles_listing_and_last_owner(client, conn):
    data, owner = await register(client)
    org_id = data["organization"]["id"]
    added = []
    for role in ("editor", "viewer", "owner"):
        response = await client.post(
            f"/v1/organizations/{org_id}/members",
            json={"name": f"{role} person", "email": f"{role}@vien.example.vn", "role": role},
            headers=bearer(owner),
        )
        assert response.status_code == 201, response.text
        added.append(response.json())
    viewer_key = added[1]["api_key"]
    forbidden = await client.post(
        f"/v1/organizations/{org_id}/members",
        json={"name": "Xuan", "email": "x@v.vn", "role": "owner"},
        headers=bearer(viewer_key),
    )
    assert forbidden.status_code == 403
    first = await client.get(f"/v1/organizations/{org_id}/members?limit=2", headers=bearer(viewer_key))
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = await client.get(
        f"/v1/organizations/{org_id}/members?limit=2&cursor={page['next_cursor']}", headers=bearer(viewer_key)
    )
    ids = [m["id"] for m in page["items"] + rest.json()["items"]]
    assert len(ids) == len(set(ids)) == 4
    outsider_org, outsider = await register(client, "enterprise", contact_email="o@ent.example.vn")
    assert (await client.get(f"/v1/organizations/{org_id}/members", headers=bearer(outsider))).status_code == 403
    # Two owners: one may go; the last one may not.
    second_owner = added[2]["member"]["id"]
    assert (await client.delete(f"/v1/members/{second_owner}", headers=bearer(owner))).status_code == 204
    me = (await client.get("/v1/me", headers=bearer(owner))).json()
    last = await client.delete(f"/v1/members/{me['member']['id']}", headers=bearer(owner))
    assert last.status_code == 409
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM members WHERE org_id = $1 AND removed_at IS NULL", me["member"]["org_id"]
        )
        == 3
    )


async def test_removed_member_key_and_revoked_key_fail_at_once(client):
    data, owner = await register(client)
    org_id = data["organization"]["id"]
    editor = (
        await client.post(
            f"/v1/organizations/{org_id}/members",
            json={"name": "Ed", "email": "ed@v.vn", "role": "editor"},
            headers=bearer(owner),
        )
    ).json()
    assert (await client.get("/v1/me", headers=bearer(editor["api_key"]))).status_code == 200
    assert (await client.delete(f"/v1/members/{editor['member']['id']}", headers=bearer(owner))).status_code == 204
    assert (await client.get("/v1/me", headers=bearer(editor["api_key"]))).status_code == 401
    new = (await client.post("/v1/api-keys", json={"name": "ci"}, headers=bearer(owner))).json()
    assert new["api_key"].startswith(new["prefix"])
    listed = (await client.get("/v1/api-keys", headers=bearer(owner))).json()
    assert {k["id"] for k in listed} >= {new["id"]}
    assert all("api_key" not in k for k in listed)
    assert (await client.delete(f"/v1/api-keys/{new['id']}", headers=bearer(new["api_key"]))).status_code == 204
    assert (await client.get("/v1/me", headers=bearer(new["api_key"]))).status_code == 401
    assert (await client.get("/v1/me", headers=bearer(owner))).status_code == 200
    first_key_id = data["api_key_id"]
    assert first_key_id in {k["id"] for k in listed}
    assert (await client.delete(f"/v1/api-keys/{first_key_id}", headers=bearer(owner))).status_code == 204
    assert (await client.get("/v1/me", headers=bearer(owner))).status_code == 401


async def test_a_member_cannot_revoke_someone_elses_key(client):
    _, first = await register(client)
    _, other = await register(client, "enterprise", contact_email="e@ent.example.vn")
    key = (await client.post("/v1/api-keys", json={}, headers=bearer(first))).json()
    assert (await client.delete(f"/v1/api-keys/{key['id']}", headers=bearer(other))).status_code == 404
    assert (await client.get("/v1/me", headers=bearer(key["api_key"]))).status_code == 200


async def test_bootstrap_operator_key_works_and_is_idempotent(settings, conn):
    secret = "b" * 40
    boot = settings.__class__(
        **{**{f: getattr(settings, f) for f in settings.__struct_fields__}, "operator_bootstrap_key": secret}
    )
    for _ in range(2):
        async with AsyncTestClient(create_app(boot)) as client:
            me = await client.get("/v1/me", headers=bearer(secret))
            assert me.status_code == 200
            assert me.json()["role"] == "operator" and me.json()["organization"] is None
    assert await conn.fetchval("SELECT count(*) FROM members WHERE role = 'operator'") == 1
