"""Search over the real Meilisearch: spelling, language, filters, facets, and only published listings."""

import httpx
import msgspec
import pytest
from meilisearch_python_sdk.errors import MeilisearchApiError

from exchange.kernel.errors import Unavailable
from matching import engine
from tests.matching.waiting import ids, search_until, visible
from tests.support import bearer, demand_body, offer_body, operator_key, published, verified_org

SOLAR_DRYER = {
    "title": "Solar-assisted heat pump dryer for coffee and cocoa beans",
    "summary": "Dries 2 tonnes of coffee beans per batch with 45% less energy than diesel dryers.",
    "description": (
        "A hybrid dryer combining flat-plate solar collectors with a heat pump. Moisture falls from 55% to 12% "
        "in 30 hours at 45 °C, keeping aroma compounds. Tested at two cooperatives in Dak Lak for two seasons."
    ),
    "language": "en",
    "sector": "401",
    "keywords": ["dryer", "coffee", "solar energy", "heat pump"],
    "trl": 8,
    "ip_status": "utility_solution",
    "patent_numbers": ["2-0002345"],
    "transfer_modes": ["equipment_sale", "license"],
    "price": {"amount": 450_000_000, "currency": "VND"},
    "region": "66",
}


async def setup(client, conn):
    operator = await operator_key(conn)
    _, institute = await verified_org(client, operator, "institute")
    return operator, institute


async def test_finds_listings_typed_without_diacritics_with_a_typo_and_in_the_other_language(client, conn):
    operator, institute = await setup(client, conn)
    wastewater = await published(client, "offer", institute, operator, offer_body())
    dryer = await published(client, "offer", institute, operator, SOLAR_DRYER)
    await visible(client, "offer", wastewater["id"])
    await visible(client, "offer", dryer["id"])

    async def first(q: str) -> str:
        body = await search_until(client, "offer", {"q": q}, lambda b: True)
        assert body["hits"], f"nothing found for {q!r}"
        return body["hits"][0]["listing"]["id"]

    assert await first("xu ly nuoc thai chan nuoi") == wastewater["id"]
    assert await first("nươc thaii chăn nuôi") == wastewater["id"]  # a typo and a missing tone mark
    assert await first("livestock wastewater treatment") == wastewater["id"]
    assert await first("máy sấy cà phê năng lượng mặt trời") == dryer["id"]
    assert await first("may say ca phe") == dryer["id"]
    hit = (await search_until(client, "offer", {"q": "nuoc thai"}, lambda b: True))["hits"][0]
    assert "<em>" in hit["highlights"]["title"]
    assert 0 < hit["score"] <= 1


async def test_the_other_language_finds_and_highlights_hits_without_the_dropped_synonyms(client, conn, stack):
    operator, institute = await setup(client, conn)
    wastewater = await published(client, "offer", institute, operator, offer_body())
    dryer = await published(client, "offer", institute, operator, SOLAR_DRYER)
    await visible(client, "offer", wastewater["id"])
    await visible(client, "offer", dryer["id"])
    uid = engine.index_uid(client.app.state.settings, "offer")
    async with httpx.AsyncClient(base_url=stack.meili_url, trust_env=False) as meili:
        answer = await meili.get(
            f"/indexes/{uid}/settings/synonyms", headers={"Authorization": f"Bearer {stack.meili_master_key}"}
        )
    assert answer.status_code == 200, answer.text
    live = answer.json()
    assert live and set(live) <= set(engine.synonyms())
    for term in ("animal husbandry", "wastewater treatment", "cà phê", "ca phe"):
        assert term not in live, term  # so these queries are answered through the documents' `terms`

    async def top(q: str) -> dict:
        body = await search_until(client, "offer", {"q": q}, lambda b: bool(b["hits"]))
        return body["hits"][0]

    hit = await top("animal husbandry wastewater treatment")
    assert hit["listing"]["id"] == wastewater["id"]
    assert "<em>xử lý nước thải</em>" in hit["highlights"]["title"]
    assert "<em>chăn nuôi</em>" in hit["highlights"]["title"]
    assert "để <em>xử lý nước thải</em> <em>chăn nuôi</em> heo" in hit["highlights"]["description"]
    hit = await top("ca phe")
    assert hit["listing"]["id"] == dryer["id"]
    assert hit["highlights"]["title"] == "Solar-assisted heat pump dryer for <em>coffee</em> and cocoa beans"


async def test_a_one_word_synonym_still_finds_a_target_an_overlapping_term_hides(client, conn):
    operator, institute = await setup(client, conn)
    # Read as "shrimp feed" (thức ăn thủy sản), so `terms` holds no "tôm": the synonym tôm -> shrimp finds it.
    body = offer_body(
        title="Low-cost shrimp feed from black soldier fly larvae",
        summary="Replaces 40% of fishmeal, 5 tonnes a day.",
        description="Larvae reared on brewery waste are dried, defatted and pelleted with rice bran.",
        keywords=["insect protein"],
        language="en",
    )
    offer = await published(client, "offer", institute, operator, body)
    await visible(client, "offer", offer["id"])
    found = await search_until(client, "offer", {"q": "tôm"}, lambda b: bool(b["hits"]))
    assert ids(found) == [offer["id"]]
    assert found["hits"][0]["highlights"]["title"] == "Low-cost <em>shrimp</em> feed from black soldier fly larvae"


async def test_filters_facets_and_sort(client, conn):
    operator, institute = await setup(client, conn)
    cheap = await published(
        client, "offer", institute, operator, offer_body(price={"amount": 100_000_000, "currency": "VND"}, trl=4)
    )
    dear = await published(
        client, "offer", institute, operator, offer_body(region="Hà Nam", ip_status="know_how", patent_numbers=[])
    )
    dryer = await published(client, "offer", institute, operator, SOLAR_DRYER)
    for offer in (cheap, dear, dryer):
        await visible(client, "offer", offer["id"])

    async def found(**params) -> list[str]:
        response = await client.get("/v1/search/offers", params=params)
        assert response.status_code == 200, response.text
        return ids(response.json())

    assert set(await found(sector="207")) == {cheap["id"], dear["id"]}
    assert await found(trl_max=5) == [cheap["id"]]
    assert set(await found(trl_min=7)) == {dear["id"], dryer["id"]}
    assert await found(transfer_mode="equipment_sale") == [dryer["id"]]
    assert set(await found(transfer_mode=["equipment_sale", "consulting"])) == {cheap["id"], dear["id"], dryer["id"]}
    # A former province name is mapped to the unit it belongs to now (Hà Nam is part of Ninh Bình, 37).
    assert await found(region="Hà Nam") == [dear["id"]]
    assert await found(region="37") == [dear["id"]]
    assert set(await found(price_max=500_000_000)) == {cheap["id"], dryer["id"]}
    assert await found(language="en") == [dryer["id"]]
    assert await found(ip_status="know_how") == [dear["id"]]
    assert await found(sort="price") == [cheap["id"], dryer["id"], dear["id"]]

    body = (await client.get("/v1/search/offers", params={"facets": "sector,transfer_modes,language"})).json()
    assert body["facets"]["sector"] == {"207": 2, "401": 1}
    assert body["facets"]["language"] == {"vi": 2, "en": 1}
    assert body["facets"]["transfer_modes"] == {"license": 3, "consulting": 2, "equipment_sale": 1}
    assert body["estimated_total"] == 3


async def test_bad_parameters_are_400_naming_the_parameter(client):
    cases = [
        ({"facets": "sector,secret"}, "facets"),
        ({"trl_min": 7, "trl_max": 3}, "trl_min"),
        ({"region": "Atlantis"}, "region"),
        ({"sector": "999"}, "sector"),
        ({"trl_min": 12}, "trl_min"),
        ({"sort": "random"}, "sort"),
        ({"limit": 500}, "limit"),
    ]
    for params, field in cases:
        response = await client.get("/v1/search/offers", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in response.text, (params, response.text)
    demands = await client.get("/v1/search/demands", params={"ip_status": "know_how"})
    assert demands.status_code == 400 and "ip_status" in demands.text


async def test_unpublished_listings_never_appear_and_withdrawn_ones_disappear(client, conn):
    operator, institute = await setup(client, conn)
    _, other = await verified_org(client, operator, "institute")
    marker = "Zeolit"
    draft = await client.post("/v1/offers", json=offer_body(title=f"{marker} draft filter"), headers=bearer(institute))
    pending = (
        await client.post("/v1/offers", json=offer_body(title=f"{marker} pending filter"), headers=bearer(other))
    ).json()
    await client.post(f"/v1/offers/{pending['id']}/submit", headers=bearer(other))
    rejected = (
        await client.post("/v1/offers", json=offer_body(title=f"{marker} rejected filter"), headers=bearer(other))
    ).json()
    await client.post(f"/v1/offers/{rejected['id']}/submit", headers=bearer(other))
    await client.post(f"/v1/offers/{rejected['id']}/reject", json={"reason": "incomplete"}, headers=bearer(operator))
    live = await published(client, "offer", institute, operator, offer_body(title=f"{marker} published filter"))
    gone = await published(client, "offer", institute, operator, offer_body(title=f"{marker} withdrawn filter"))
    await visible(client, "offer", gone["id"])
    withdrawn = await client.post(f"/v1/offers/{gone['id']}/withdraw", headers=bearer(institute))
    assert withdrawn.status_code == 200, withdrawn.text

    body = await search_until(client, "offer", {"q": marker}, lambda b: ids(b) == [live["id"]])
    assert body["estimated_total"] == 1
    assert draft.json()["id"] not in ids(body)
    # The search document carries only the public view: no contact, no confidential details.
    listing = body["hits"][0]["listing"]
    assert "contact" not in listing and "confidential_details" not in listing


async def test_catches_up_by_itself_after_meilisearch_was_down(client, conn, stack):
    operator, institute = await setup(client, conn)
    first = await published(client, "offer", institute, operator, offer_body(title="Before the outage: biochar kiln"))
    await visible(client, "offer", first["id"])
    stack.stop_meilisearch()
    try:
        during = [
            await published(
                client, "offer", institute, operator, offer_body(title=f"During the outage {n}: biochar kiln")
            )
            for n in range(3)
        ]
        down = await client.get("/v1/search/offers", params={"q": "biochar"})
        assert down.status_code == 503, down.text
        await client.post(f"/v1/offers/{first['id']}/withdraw", headers=bearer(institute))
    finally:
        stack.start_meilisearch()
    expected = {o["id"] for o in during}
    await search_until(client, "offer", {"q": "biochar kiln"}, lambda b: set(ids(b)) == expected, deadline=60)


async def test_search_of_demands(client, conn):
    operator = await operator_key(conn)
    _, enterprise = await verified_org(client, operator, "enterprise")
    demand = await published(client, "demand", enterprise, operator, demand_body())
    body = await search_until(client, "demand", {"q": "nuoc thai thuy san"}, lambda b: bool(b["hits"]))
    assert ids(body) == [demand["id"]]
    assert (await client.get("/v1/search/demands", params={"price_max": 1_000_000_000})).json()["hits"] == []
    assert (await client.get("/v1/search/demands", params={"trl_min": 6, "region": "Sóc Trăng"})).json()["hits"]


async def test_meilisearch_is_asked_for_uncompressed_answers(client):
    # Compressed answers cost ~40 ms a search here; the shared client and the search session ask for identity encoding.
    assert client.app.state.meili.http_client.headers["accept-encoding"] == "identity"
    assert client.app.state.meili_search.headers["Accept-Encoding"] == "identity"


async def test_a_search_refused_by_meilisearch_raises_as_the_sdk_would_and_a_missing_index_is_a_503(client, settings):
    async with engine.search_session(settings) as session:
        await _refused_and_missing(session, settings)


async def _refused_and_missing(session, settings):
    uid = engine.index_uid(settings, "offer")
    answer = msgspec.json.decode(await engine.post_search(session, settings, uid, b'{"q": "biochar", "limit": 1}'))
    assert "hits" in answer and "estimatedTotalHits" in answer
    with pytest.raises(MeilisearchApiError) as refused:
        await engine.post_search(session, settings, uid, b'{"q": "biochar", "limit": "many"}')
    assert refused.value.status_code == 400 and refused.value.code == "invalid_search_limit"
    with pytest.raises(Unavailable):
        async with engine.unavailable_as_503():
            await engine.post_search(session, settings, f"{uid}-missing", b"{}")
