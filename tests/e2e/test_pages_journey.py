"""The public pages of `exchange serve` with two worker processes: a page one worker kept is gone from both the moment
the withdraw has answered."""

import asyncio
import xml.etree.ElementTree as ET

from tests.support import bearer, published_offer, verified_org

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
READS = 24


async def _statuses(http, path: str) -> list[int]:
    """The status of many concurrent reads of a path, so that both workers answer some of them."""
    return [r.status_code for r in await asyncio.gather(*(http.get(path) for _ in range(READS)))]


async def test_a_withdrawn_listing_has_no_page_on_any_worker_once_the_withdraw_answered(http, server):
    _, owner = await verified_org(http, server.operator_key)
    offer = await published_offer(http, owner, server.operator_key)
    path = f"/offers/{offer['id']}"

    assert await _statuses(http, path) == [200] * READS
    first = await http.get(path)
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    assert (await http.get(path, headers={"If-None-Match": first.headers["etag"]})).status_code == 304
    sitemap = ET.fromstring((await http.get("/sitemap.xml")).content)
    locs = {url.find(f"{SITEMAP}loc").text for url in sitemap}
    assert f"{server.base_url}{path}" in locs

    withdrawn = await http.post(f"/v1/offers/{offer['id']}/withdraw", headers=bearer(owner))
    assert withdrawn.status_code == 200
    assert await _statuses(http, path) == [404] * READS
    # A copy a client kept is not confirmed either.
    assert (await http.get(path, headers={"If-None-Match": first.headers["etag"]})).status_code == 404
    sitemap = ET.fromstring((await http.get("/sitemap.xml")).content)
    assert f"{path}" not in " ".join(url.find(f"{SITEMAP}loc").text for url in sitemap)
