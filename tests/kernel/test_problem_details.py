"""Bad input of every shape is a 4xx problem detail naming the field, never a 500."""

import pytest

from tests.support import bearer, offer_body, register


async def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["detail"]
    return body


async def test_missing_body_names_the_body(client):
    _, key = await register(client)
    body = await _problem(await client.post("/v1/offers", headers=bearer(key)), 422)
    assert body["errors"][0]["field"] == "body"


async def test_unknown_nested_field_is_named_with_its_path(client):
    _, key = await register(client)
    response = await client.post(
        "/v1/offers", json=offer_body(contact={"name": "An", "fax": "028 1234"}), headers=bearer(key)
    )
    body = await _problem(response, 422)
    assert body["errors"][0]["field"] == "contact.fax"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": {"amount": -1, "currency": "VND"}}, "price.amount"),
        ({"price": {"amount": 10, "currency": "USD"}}, "price.currency"),
        ({"keywords": ["a", 3]}, "keywords[1]"),
        ({"keywords": [f"k{i}" for i in range(11)]}, "keywords"),
        ({"transfer_modes": ["gift"]}, "transfer_modes[0]"),
        ({"language": "fr"}, "language"),
        ({"title": "x"}, "title"),
        ({"trl": "seven"}, "trl"),
        ({"contact": {"name": "An", "email": "not-an-email"}}, "contact.email"),
    ],
)
async def test_invalid_fields_are_named(client, change, field):
    _, key = await register(client)
    body = await _problem(await client.post("/v1/offers", json=offer_body(**change), headers=bearer(key)), 422)
    assert body["errors"][0]["field"] == field


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b"null", b'"text"', b"\xff\xfe", b'{"title": "\\ud800"}', b"1e999"],
)
async def test_malformed_json_is_4xx(client, raw):
    _, key = await register(client)
    response = await client.post("/v1/offers", content=raw, headers={**bearer(key), "content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/offers?limit=0",
        "/v1/offers?limit=abc",
        "/v1/offers?mine=maybe",
        "/v1/offers?cursor=%00%01",
        "/v1/offers?language=xx",
        "/v1/offers?expires_within_days=-3&mine=true",
    ],
)
async def test_bad_query_parameters_are_400(client, path):
    body = await _problem(await client.get(path), 400)
    assert body["detail"]


async def test_bad_ids_and_headers_never_500(client):
    _, key = await register(client)
    assert (await client.get("/v1/offers/not-a-uuid")).status_code == 404
    assert (await client.get("/v1/organizations/12345")).status_code == 404
    created = (await client.post("/v1/offers", json=offer_body(), headers=bearer(key))).json()
    bad_etag = await client.patch(
        f"/v1/offers/{created['id']}", json={"trl": 5}, headers={**bearer(key), "If-Match": "garbage"}
    )
    await _problem(bad_etag, 400)
    long_key = await client.get("/v1/me", headers=bearer("tmx_" + "a" * 5000))
    await _problem(long_key, 401)
    await _problem(await client.get("/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/offers", offer_body(title="Xử lý\u0000 nước thải"), "title"),
        ("/v1/offers", offer_body(keywords=["ok", "bad\u0007"]), "keywords[1]"),
        ("/v1/offers", offer_body(contact={"name": "An\u0000"}), "contact.name"),
        ("/v1/offers", offer_body(contact={"name": "An", "email": "a\u0000@b.vn"}), "contact.email"),
    ],
)
async def test_control_characters_are_422_naming_the_field(client, path, body, field):
    _, key = await register(client)
    problem = await _problem(await client.post(path, json=body, headers=bearer(key)), 422)
    assert problem["errors"][0]["field"] == field
    assert problem["errors"][0]["message"] == "must not contain control characters" or field.endswith("email")


async def test_control_characters_in_registration_are_422(client, conn):
    response = await client.post(
        "/v1/organizations",
        json={"name": "Nul\u0000 Org", "kind": "institute", "province": "01", "contact_email": "n@x.example.vn"},
    )
    problem = await _problem(response, 422)
    assert problem["errors"][0]["field"] == "name"
    assert await conn.fetchval("SELECT count(*) FROM organizations") == 0


async def test_multiline_descriptions_are_plain_text(client):
    _, key = await register(client)
    body = offer_body(description="Dòng một: hiệu suất 95%.\nDòng hai:\tcông suất 50 m3/ngày.\r\n" + "x" * 40)
    assert (await client.post("/v1/offers", json=body, headers=bearer(key))).status_code == 201
