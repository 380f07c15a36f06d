"""Public reads served from the stored public JSON: the same answer as rendering the row, for every viewer and moment."""

import msgspec
from litestar.testing import AsyncTestClient

from exchange.app import create_app
from listings.service import render_missing
from tests.parties import published_demand
from tests.support import bearer, operator_key, published_offer, verified_org

PRIVATE = ("contact", "confidential_details", "rejection_reason")


async def _stored(conn, listing_id):
    return await conn.fetchval("SELECT public_body FROM listings WHERE id = $1::uuid", listing_id)


async def _drop_stored(conn, listing_id):
    # Any update that does not write a rendering clears it: the next reads render the row itself.
    await conn.execute("UPDATE listings SET public_body = public_body WHERE id = $1::uuid", listing_id)
    assert await _stored(conn, listing_id) is None


async def test_stored_public_json_is_byte_for_byte_the_rendered_one(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    assert await _stored(conn, offer["id"]) is not None
    one = await client.get(f"/v1/offers/{offer['id']}")
    page = await client.get("/v1/offers?limit=1")
    await _drop_stored(conn, offer["id"])
    rendered_one = await client.get(f"/v1/offers/{offer['id']}")
    rendered_page = await client.get("/v1/offers?limit=1")
    assert one.status_code == rendered_one.status_code == 200
    assert one.content == rendered_one.content
    assert page.content == rendered_page.content
    assert one.headers["etag"] == rendered_one.headers["etag"] == f'"{offer["version"]}"'
    assert one.headers["content-type"] == rendered_one.headers["content-type"] == "application/json"
    assert not any(name in one.json() for name in PRIVATE)


async def test_pages_and_cursors_match_the_rendered_ones(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offers = [await published_offer(client, owner, operator, title=f"Offer number {n} of five") for n in range(5)]
    stored = [(await client.get("/v1/offers?limit=2")).content]
    cursor = msgspec.json.decode(stored[0])["next_cursor"]
    stored.append((await client.get(f"/v1/offers?limit=2&cursor={cursor}")).content)
    stored.append((await client.get("/v1/offers?limit=2&sector=207&region=75")).content)
    for offer in offers:
        await _drop_stored(conn, offer["id"])
    rendered = [(await client.get("/v1/offers?limit=2")).content]
    rendered.append((await client.get(f"/v1/offers?limit=2&cursor={cursor}")).content)
    rendered.append((await client.get("/v1/offers?limit=2&sector=207&region=75")).content)
    assert stored == rendered
    assert [o["id"] for o in msgspec.json.decode(stored[0])["items"]] == [offers[4]["id"], offers[3]["id"]]


async def test_owner_operator_and_disclosed_parties_see_private_fields_strangers_never(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    _, buyer = await verified_org(client, operator, "enterprise")
    _, stranger = await verified_org(client, operator, "enterprise", contact_email="s@other.example.vn")
    offer = await published_offer(client, owner, operator)
    path = f"/v1/offers/{offer['id']}"
    for key in (owner, operator):
        seen = (await client.get(path, headers=bearer(key))).json()
        assert seen["contact"]["name"] == "TS. Nguyễn Văn An" and seen["confidential_details"]
        assert "rejection_reason" in seen
        listed = (await client.get("/v1/offers", headers=bearer(key))).json()["items"]
        assert listed[0]["id"] == offer["id"] and listed[0]["contact"]["name"] == "TS. Nguyễn Văn An"
    for headers in ({}, bearer(stranger), bearer(buyer)):
        seen = (await client.get(path, headers=headers)).json()
        assert seen["id"] == offer["id"] and not any(name in seen for name in PRIVATE)
        listed = (await client.get("/v1/offers", headers=headers)).json()["items"]
        assert not any(name in listed[0] for name in PRIVATE)

    demand = await published_demand(client, buyer, operator)
    sent = await client.post(
        f"{path}/interests", json={"message": "About a licence.", "listing_id": demand["id"]}, headers=bearer(buyer)
    )
    assert sent.status_code == 201, sent.text
    accepted = await client.post(f"/v1/interests/{sent.json()['id']}/accept", headers=bearer(owner))
    assert accepted.status_code == 200, accepted.text
    disclosed = await client.get(path, headers=bearer(buyer))
    assert disclosed.json()["contact"]["name"] == "TS. Nguyễn Văn An"
    assert disclosed.json()["confidential_details"] == offer["confidential_details"]
    assert "rejection_reason" not in disclosed.json()
    # The disclosure did not change the listing's version: a copy taken before it must not be declared current.
    assert disclosed.headers["etag"] == f'"{offer["version"]}"'
    again = await client.get(path, headers={**bearer(buyer), "If-None-Match": disclosed.headers["etag"]})
    assert again.status_code == 200 and again.json()["contact"]["name"] == "TS. Nguyễn Văn An"
    for headers in ({}, bearer(stranger)):
        seen = (await client.get(path, headers=headers)).json()
        assert not any(name in seen for name in PRIVATE)


async def test_withdrawn_listing_is_gone_at_once_for_another_process(client, live, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    path = f"/v1/offers/{offer['id']}"
    # `live` is a second app instance (its own pool and memory), as another worker process would be.
    first = await live.get(path)
    assert first.status_code == 200
    assert offer["id"] in [o["id"] for o in (await live.get("/v1/offers")).json()["items"]]
    withdrawn = await client.post(f"{path}/withdraw", headers=bearer(owner))
    assert withdrawn.status_code == 200
    assert (await live.get(path)).status_code == 404
    assert (await live.get(path, headers={"If-None-Match": first.headers["etag"]})).status_code == 404
    assert offer["id"] not in [o["id"] for o in (await live.get("/v1/offers")).json()["items"]]
    assert (await live.get(path, headers=bearer(owner))).json()["status"] == "withdrawn"
    assert await _stored(conn, offer["id"]) is None


async def test_if_none_match_gives_304_only_for_the_current_version(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    path = f"/v1/offers/{offer['id']}"
    first = await client.get(path)
    tag = first.headers["etag"]
    for given in (tag, f"W/{tag}", f'"999", {tag}', "*"):
        cached = await client.get(path, headers={"If-None-Match": given})
        assert cached.status_code == 304, given
        assert cached.content == b"" and cached.headers["etag"] == tag
    stale = await client.get(path, headers={"If-None-Match": f'"{offer["version"] - 1}"'})
    assert stale.status_code == 200 and stale.content == first.content

    edited = await client.patch(path, json={"price": {"amount": 900_000_000, "currency": "VND"}}, headers=bearer(owner))
    assert edited.status_code == 200 and edited.json()["status"] == "published"
    assert edited.headers["etag"] != tag
    after_edit = await client.get(path, headers={"If-None-Match": tag})
    assert after_edit.status_code == 200
    assert after_edit.headers["etag"] == edited.headers["etag"]
    assert after_edit.json()["price"]["amount"] == 900_000_000
    assert (await client.get(path, headers={"If-None-Match": edited.headers["etag"]})).status_code == 304


async def test_expiring_soon_and_expired_still_flip_by_time(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    path = f"/v1/offers/{offer['id']}"
    tag = (await client.get(path)).headers["etag"]
    # As if this version had been written a month ago and its last 14 days had now begun: re-rendered and stored
    # for the row as it now stands, so the read takes the stored JSON and sets the flag itself.
    await conn.execute(
        "UPDATE listings SET updated_at = now() - interval '30 days', expires_at = now() + interval '10 days'"
        " WHERE id = $1::uuid",
        offer["id"],
    )
    assert await render_missing(conn) == 1
    assert b'"expiring_soon":false' in await _stored(conn, offer["id"])
    soon = await client.get(path)
    assert soon.json()["expiring_soon"] is True and soon.json()["status"] == "published"
    listed = (await client.get("/v1/offers")).json()["items"]
    assert [o["expiring_soon"] for o in listed if o["id"] == offer["id"]] == [True]
    # Same version, but the copy taken before read expiring_soon false: not a 304.
    assert (await client.get(path, headers={"If-None-Match": tag})).status_code == 200

    await conn.execute("UPDATE listings SET expires_at = now() - interval '1 second' WHERE id = $1::uuid", offer["id"])
    assert await render_missing(conn) == 1
    assert (await client.get(path)).status_code == 404
    assert (await client.get(path, headers={"If-None-Match": tag})).status_code == 404
    assert offer["id"] not in [o["id"] for o in (await client.get("/v1/offers")).json()["items"]]
    own = (await client.get(path, headers=bearer(owner))).json()
    assert own["status"] == "expired" and own["expiring_soon"] is False


async def test_a_version_written_in_its_last_14_days_stays_cacheable(client, conn, settings):
    short = msgspec.structs.replace(settings, listing_ttl_days=10)
    async with AsyncTestClient(create_app(short)) as short_client:
        operator = await operator_key(conn)
        _, owner = await verified_org(short_client, operator)
        offer = await published_offer(short_client, owner, operator)
        assert offer["expiring_soon"] is True
        path = f"/v1/offers/{offer['id']}"
        seen = await short_client.get(path)
        assert seen.json()["expiring_soon"] is True
        assert (await short_client.get(path, headers={"If-None-Match": seen.headers["etag"]})).status_code == 304


async def test_listings_stored_before_start_are_rendered_at_start(client, conn, settings):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    expected = (await client.get(f"/v1/offers/{offer['id']}")).content
    await _drop_stored(conn, offer["id"])
    async with AsyncTestClient(create_app(settings)) as restarted:
        assert await _stored(conn, offer["id"]) == expected
        assert (await restarted.get(f"/v1/offers/{offer['id']}")).content == expected
