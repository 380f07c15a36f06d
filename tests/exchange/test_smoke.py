from tests.support import operator_key, published_offer, verified_org


async def test_offer_lifecycle_smoke(client, conn):
    operator = await operator_key(conn)
    _, key = await verified_org(client, operator)
    offer = await published_offer(client, key, operator)
    response = await client.get(f"/v1/offers/{offer['id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "published"
    assert "confidential_details" not in body
    assert "contact" not in body
    assert response.headers["etag"] == f'"{body["version"]}"'
    assert response.headers["x-request-id"]
