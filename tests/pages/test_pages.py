"""GET /offers/{id}, /demands/{id} and /sitemap.xml: published listings only, in their language, with their
schema.org metadata and nothing the public JSON leaves out."""

import json
import re
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from exchange.app import create_app
from exchange.pages import service as pages
from tests.parties import published_demand
from tests.support import bearer, demand_body, offer_body, operator_key, published, published_offer, verified_org

SECRET = "MARKER-CONFIDENTIAL-7f3a"
CONTACT = {"name": "MARKER-CONTACT-NAME", "email": "marker.contact@secret.example.vn", "phone": "+84 99 9999 9999"}
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


class Head(HTMLParser):
    """What a page declares about itself: its language, title, metas, links and JSON-LD blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.title = ""
        self.metas: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.json_ld: list[object] = []
        self.scripts: list[dict[str, str | None]] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        elif tag == "meta" and (values.get("name") or values.get("property")):
            self.metas[values.get("name") or values["property"]] = values.get("content") or ""
        elif tag == "link":
            self.links[values.get("rel") or ""] = values.get("href") or ""
        elif tag == "script":
            self.scripts.append(values)
            self._in = "json_ld" if values.get("type") == "application/ld+json" else "script"
        elif tag == "title":
            self._in = "title"

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "title":
            self.title += data
        elif self._in == "json_ld":
            self.json_ld.append(json.loads(data))


def head_of(html: str) -> Head:
    """Parse a page's head."""
    parser = Head()
    parser.feed(html)
    return parser


async def test_an_offer_page_is_its_public_view_in_its_language_with_schema_org_metadata(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(
        client,
        owner,
        operator,
        confidential_details=f"{SECRET} ratio 3:1",
        contact=CONTACT,
        title="Màng MBR <b>& co</b>",
    )

    page = await client.get(f"/offers/{offer['id']}")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    html = page.text
    head = head_of(html)
    assert head.lang == "vi"
    assert "Màng MBR &lt;b&gt;&amp; co&lt;/b&gt;" in html and "<b>& co</b>" not in html
    assert head.title.startswith("Màng MBR <b>& co</b>")
    assert "Lĩnh vực" in html and "Phương thức chuyển giao" in html and "850.000.000 VND" in html
    assert head.links["canonical"] == f"http://127.0.0.1:8000/offers/{offer['id']}"
    assert head.metas["og:url"] == head.links["canonical"] and head.metas["og:title"] == "Màng MBR <b>& co</b>"
    assert head.metas["description"].startswith("Hệ thống MBR xử lý nước thải")
    [ld] = head.json_ld
    assert ld["@context"] == "https://schema.org" and ld["@type"] == "Product"
    assert ld["name"] == "Màng MBR <b>& co</b>" and ld["url"] == head.links["canonical"]
    assert ld["offers"]["price"] == 850_000_000 and ld["offers"]["priceCurrency"] == "VND"
    # The JSON-LD cannot close its own script element, whatever the listing says.
    assert "</b>" not in html.split('type="application/ld+json">')[1].split("</script>")[0]
    # Nothing from outside: no script but the metadata, no stylesheet or font link.
    assert all(s.get("type") == "application/ld+json" and not s.get("src") for s in head.scripts)
    assert not re.search(r"""(src|href)=["']?(https?:)?//(?!127\.0\.0\.1:8000/)""", html)
    for hidden in (SECRET, CONTACT["name"], CONTACT["email"], CONTACT["phone"]):
        assert hidden not in html
    # The page shows what the anonymous JSON shows: the confidential fields are there only for the owner.
    public = (await client.get(f"/v1/offers/{offer['id']}")).json()
    assert "confidential_details" not in public and "contact" not in public
    owner_view = (await client.get(f"/v1/offers/{offer['id']}", headers=bearer(owner))).json()
    assert owner_view["confidential_details"].startswith(SECRET)
    # A key does not change what the page shows.
    assert SECRET not in (await client.get(f"/offers/{offer['id']}", headers=bearer(owner))).text


async def test_a_demand_page_in_english_is_a_schema_org_demand(client, conn):
    operator = await operator_key(conn)
    _, buyer = await verified_org(client, operator, "enterprise")
    demand = await published_demand(client, buyer, operator, contact=CONTACT)

    page = await client.get(f"/demands/{demand['id']}")
    assert page.status_code == 200
    head = head_of(page.text)
    assert head.lang == "en"
    assert "Sector" in page.text and "Maximum budget" in page.text and "2,000,000,000 VND" in page.text
    assert "Sóc Trăng" not in page.text and "Can Tho" in page.text  # the former province, named as its current unit
    [ld] = head.json_ld
    assert ld["@type"] == "Demand" and ld["name"] == demand["title"] and ld["inLanguage"] == "en"
    assert ld["priceSpecification"]["maxPrice"] == 2_000_000_000 and ld["availabilityEnds"] == "2027-06-30"
    assert head.metas["og:locale"] == "en_US"
    for hidden in (CONTACT["name"], CONTACT["email"], CONTACT["phone"]):
        assert hidden not in page.text
    # An offer's page is not a demand's.
    assert (await client.get(f"/offers/{demand['id']}")).status_code == 404


async def _create(client, key: str, kind: str = "offer") -> dict:
    body = offer_body(confidential_details=SECRET) if kind == "offer" else demand_body()
    created = await client.post(f"/v1/{kind}s", json=body, headers=bearer(key))
    assert created.status_code == 201, created.text
    return created.json()


async def test_nothing_unpublished_has_a_page(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    draft = await _create(client, owner)
    pending = await _create(client, owner)
    await client.post(f"/v1/offers/{pending['id']}/submit", headers=bearer(owner))
    rejected = await _create(client, owner)
    await client.post(f"/v1/offers/{rejected['id']}/submit", headers=bearer(owner))
    reason = {"reason": "Not a technology"}
    assert (await client.post(f"/v1/offers/{rejected['id']}/reject", json=reason, headers=bearer(operator))).is_success
    withdrawn = await published_offer(client, owner, operator)
    expired = await published_offer(client, owner, operator)
    await conn.execute("UPDATE listings SET expires_at = now() - interval '1 day' WHERE id = $1::uuid", expired["id"])
    assert (await client.get(f"/offers/{withdrawn['id']}")).status_code == 200
    assert (await client.post(f"/v1/offers/{withdrawn['id']}/withdraw", headers=bearer(owner))).is_success

    suspended_org, suspended_owner = await verified_org(client, operator)
    of_suspended = await published_offer(client, suspended_owner, operator)
    assert (await client.get(f"/offers/{of_suspended['id']}")).status_code == 200
    org_id = suspended_org["organization"]["id"]
    reason = {"reason": "Forged patent certificates"}
    assert (await client.post(f"/v1/organizations/{org_id}/suspend", json=reason, headers=bearer(operator))).is_success

    statuses = dict(await conn.fetch("SELECT id::text, listing_status(status, expires_at) FROM listings"))
    assert {statuses[x["id"]] for x in (draft, pending, rejected, withdrawn, expired, of_suspended)} == {
        "draft",
        "pending_review",
        "rejected",
        "withdrawn",
        "expired",
        "suspended",
    }
    paths = [f"/offers/{x['id']}" for x in (draft, pending, rejected, withdrawn, expired, of_suspended)]
    paths += [f"/offers/{uuid.uuid4()}", f"/demands/{uuid.uuid4()}", "/offers/not-a-uuid", "/offers/1%27%20OR%201=1"]
    for path in paths:
        for headers in ({}, bearer(owner), bearer(operator)):
            answer = await client.get(path, headers=headers)
            assert answer.status_code == 404, (path, answer.status_code)
            assert answer.headers["content-type"] == "text/html; charset=utf-8"
            assert "<h1>Không tìm thấy trang</h1>" in answer.text
            assert SECRET not in answer.text and "etag" not in answer.headers
    english = await client.get(paths[0], headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert english.status_code == 404 and "Page not found" in english.text
    assert english.headers["vary"] == "Accept-Language" and english.headers["cache-control"] == "no-cache"


async def test_a_page_has_an_etag_and_answers_if_none_match_with_304_until_it_changes(client, conn):
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    offer = await published_offer(client, owner, operator)
    path = f"/offers/{offer['id']}"

    first = await client.get(path)
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert first.headers["cache-control"] == "public, max-age=0, must-revalidate"
    assert (await client.get(path)).headers["etag"] == etag
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (await client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})).status_code == 304
    assert (await client.get(path, headers={"If-None-Match": '"other"'})).status_code == 200
    # HEAD: the same status and headers, no body; for the 404 page, the sitemap and /stats too.
    head = await client.head(path)
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    assert head.headers["content-length"] == first.headers["content-length"] != "0"
    assert (await client.head(path, headers={"If-None-Match": etag})).status_code == 304
    missing = await client.head(f"/offers/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.content == b""
    for other in ("/sitemap.xml", "/stats"):
        answer = await client.head(other)
        assert answer.status_code == 200 and answer.content == b"" and "etag" in answer.headers

    # A price edit keeps the listing published: the page changes, so the old ETag gets the new page.
    price = {"price": {"amount": 900_000_000, "currency": "VND"}}
    assert (await client.patch(f"/v1/offers/{offer['id']}", json=price, headers=bearer(owner))).is_success
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag and "900.000.000 VND" in changed.text
    # An anonymous page may be kept by shared caches; one asked with a key is never stored.
    assert (await client.get(path, headers=bearer(owner))).headers["cache-control"] == "no-store"


@pytest.fixture
async def public_client(settings):
    """The service with a public base URL of its own."""
    configured = msgspec.structs.replace(settings, public_base_url="https://techmart.example.vn/")
    async with AsyncTestClient(create_app(configured)) as test_client:
        yield test_client


def _urls(body: bytes) -> dict[str, str]:
    root = ET.fromstring(body)
    assert root.tag == f"{SITEMAP}urlset"
    return {url.find(f"{SITEMAP}loc").text: url.find(f"{SITEMAP}lastmod").text for url in root}


async def test_the_sitemap_lists_exactly_the_published_listings(public_client, conn, monkeypatch):
    client = public_client
    empty = await client.get("/sitemap.xml")
    assert empty.status_code == 200 and _urls(empty.content) == {}
    operator = await operator_key(conn)
    _, owner = await verified_org(client, operator)
    _, buyer = await verified_org(client, operator, "enterprise")
    offers = [await published_offer(client, owner, operator) for _ in range(2)]
    demand = await published(client, "demand", buyer, operator, demand_body())
    await _create(client, owner)
    gone = await published_offer(client, owner, operator)
    await client.post(f"/v1/offers/{gone['id']}/withdraw", headers=bearer(owner))
    old = await published_offer(client, owner, operator)
    await conn.execute("UPDATE listings SET expires_at = now() - interval '1 day' WHERE id = $1::uuid", old["id"])

    answer = await client.get("/sitemap.xml")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/xml; charset=utf-8"
    assert answer.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    urls = _urls(answer.content)
    base = "https://techmart.example.vn"
    expected = {f"{base}/offers/{o['id']}" for o in offers} | {f"{base}/demands/{demand['id']}"}
    assert set(urls) == expected
    for listing in (*offers, demand):
        url = f"{base}/{listing['kind']}s/{listing['id']}"
        assert datetime.fromisoformat(urls[url]).tzinfo is not None
        # Each URL is the page's own canonical link.
        page = await client.get(f"/{listing['kind']}s/{listing['id']}")
        assert head_of(page.text).links["canonical"] == url

    # Past the limit of one file the sitemap is an index of numbered files that together list every page once.
    monkeypatch.setattr(pages, "SITEMAP_URLS", 2)
    index = ET.fromstring((await client.get("/sitemap.xml")).content)
    assert index.tag == f"{SITEMAP}sitemapindex"
    locs = [m.find(f"{SITEMAP}loc").text for m in index]
    assert locs == [f"{base}/sitemap.xml?page=1", f"{base}/sitemap.xml?page=2"]
    parts = [_urls((await client.get(f"/sitemap.xml?page={n}")).content) for n in (1, 2)]
    assert [len(p) for p in parts] == [2, 1] and set(parts[0]) | set(parts[1]) == expected
    for bad in ("3", "0", "x", "-1"):
        assert (await client.get(f"/sitemap.xml?page={bad}")).status_code == 404
