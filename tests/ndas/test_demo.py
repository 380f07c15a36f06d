"""The demo data shows the deal room: NDAs (some accepted by demo organizations) and offers with express licences."""

from exchange.seed import demo_id, seed
from tests.ndas.support import sha256_of
from tests.support import bearer, operator_key


async def test_demo_ndas_and_licence_terms_are_loaded_once_and_served(client, conn):
    async with conn.transaction():
        first = await seed(conn)
    assert first["ndas_added"] == 4
    async with conn.transaction():
        assert (await seed(conn))["ndas_added"] == 0
    assert await conn.fetchval("SELECT count(*) FROM offer_ndas WHERE required") == 3
    accepted = await conn.fetch(
        "SELECT a.offer_id, a.org_id, a.sha256, v.text FROM nda_acceptances a"
        " JOIN nda_versions v USING (offer_id, version)"
    )
    assert len(accepted) == 4 and all(a["sha256"] == sha256_of(a["text"]) for a in accepted)
    offer_id = demo_id("offer", "xu-ly-nuoc-thai-det-nhuom-fenton-mbbr")
    assert demo_id("organization", "detnhuom-phohien") in {a["org_id"] for a in accepted if a["offer_id"] == offer_id}
    offer = (await client.get(f"/v1/offers/{offer_id}")).json()
    assert offer["licence_terms"]["transfer_mode"] == "license" and offer["licence_terms"]["exclusive"] is False
    assert len(offer["licence_terms_sha256"]) == 64
    assert await conn.fetchval("SELECT count(*) FROM listings WHERE licence_terms IS NOT NULL") == 4
    operator = await operator_key(conn)
    page = await client.get(f"/v1/offers/{offer_id}/nda/acceptances", headers=bearer(operator))
    assert len(page.json()["items"]) == 2
