"""GET and PUT /v1/me/notifications/settings: defaults, replacing them, and validation errors naming the field."""

from tests.support import bearer, operator_key, register

DEFAULTS = {
    "email": True,
    "language": "vi",
    "digest": "immediate",
    "topics": ["matches", "interests", "deals", "invoices", "expiry"],
}


async def test_a_new_member_has_the_defaults_and_can_replace_them(client):
    _, key = await register(client)
    got = await client.get("/v1/me/notifications/settings", headers=bearer(key))
    assert got.status_code == 200, got.text
    assert got.json() == DEFAULTS
    wanted = {"email": True, "language": "en", "digest": "daily", "topics": ["deals", "matches"]}
    put = await client.put("/v1/me/notifications/settings", json=wanted, headers=bearer(key))
    assert put.status_code == 200, put.text
    # Topics come back in one canonical order.
    assert put.json() == {**wanted, "topics": ["matches", "deals"]}
    assert (await client.get("/v1/me/notifications/settings", headers=bearer(key))).json() == put.json()
    # A field left out keeps its value.
    partial = await client.put("/v1/me/notifications/settings", json={"language": "vi"}, headers=bearer(key))
    assert partial.json() == {**put.json(), "language": "vi"}


async def test_operators_have_settings_too_and_another_members_are_not_touched(client, conn):
    _, member = await register(client)
    operator = await operator_key(conn)
    put = await client.put("/v1/me/notifications/settings", json={"email": False}, headers=bearer(operator))
    assert put.status_code == 200 and put.json() == {**DEFAULTS, "email": False}
    assert (await client.get("/v1/me/notifications/settings", headers=bearer(member))).json() == DEFAULTS


async def test_without_a_key_it_is_401(client):
    assert (await client.get("/v1/me/notifications/settings")).status_code == 401
    assert (await client.put("/v1/me/notifications/settings", json=DEFAULTS)).status_code == 401


async def test_bad_values_are_422_naming_the_field_and_change_nothing(client):
    _, key = await register(client)
    for body, field in (
        ({"digest": "weekly"}, "digest"),
        ({"language": "fr"}, "language"),
        ({"topics": ["matches", "spam"]}, "topics"),
        ({"topics": ["matches", "matches"]}, "topics"),
        ({"email": "yes"}, "email"),
        ({"colour": "blue"}, "colour"),
    ):
        response = await client.put("/v1/me/notifications/settings", json=body, headers=bearer(key))
        assert response.status_code == 422, (body, response.text)
        problem = response.json()
        assert any(field in e["field"] for e in problem["errors"]), (body, problem)
    assert (await client.get("/v1/me/notifications/settings", headers=bearer(key))).json() == DEFAULTS
