"""GET /stats: the statistics of one snapshot as a page with inline SVG charts, in Vietnamese or English."""

import re
from html.parser import HTMLParser

from exchange.kernel import taxonomy
from tests.parties import agreed_deal, parties
from tests.support import bearer

MESSAGE = {"message": "Interested in this technology."}


class Charts(HTMLParser):
    """The charts of a page: each svg's id, its title and desc, its bars' values, and each data table's rows."""

    def __init__(self) -> None:
        super().__init__()
        self.svgs: dict[str, dict] = {}
        self.tables: list[list[list[str]]] = []
        self._svg: str | None = None
        self._text: str | None = None
        self._row: list[str] | None = None
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "svg":
            self._svg = values["id"]
            self.svgs[self._svg] = {"role": values.get("role"), "bars": [], "title": "", "desc": ""}
        elif tag == "rect" and self._svg and "bar" in (values.get("class") or "").split():
            self.svgs[self._svg]["bars"].append((values["data-label"], float(values["data-value"])))
        elif tag in ("title", "desc") and self._svg and values.get("id", "").endswith(f"-{tag}"):
            self._text = tag
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._row.append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg = None
        elif tag in ("title", "desc"):
            self._text = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None
        elif tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._svg and self._text:
            self.svgs[self._svg][self._text] += data
        if self._in_cell and self._row is not None:
            self._row[-1] += data


def charts_of(html: str) -> Charts:
    """Parse a page's charts."""
    parser = Charts()
    parser.feed(html)
    return parser


async def test_the_stats_page_draws_every_figure_of_the_snapshot(client, conn):
    p = await parties(client, conn)
    await client.post(f"/v1/offers/{p.offer['id']}/interests", json=MESSAGE, headers=bearer(p.buyer))
    await agreed_deal(client, p, amount=700_000_000)

    page = await client.get("/stats")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-language"] == "vi" and page.headers["vary"] == "Accept-Language"
    assert page.headers["cache-control"] == "public, max-age=0, must-revalidate" and page.headers["etag"]
    html = page.text
    assert '<html lang="vi">' in html and "<h1>Thống kê sàn giao dịch</h1>" in html
    stats = (await client.get("/v1/stats")).json()
    charts = charts_of(html)
    assert set(charts.svgs) == {
        "by-sector",
        "by-province",
        "offers-vs-demands",
        "interests",
        "deals-by-stage",
        "over-time",
    }
    assert all(svg["role"] == "img" and svg["title"] and svg["desc"] for svg in charts.svgs.values())

    sector_name = taxonomy.sector("207").vi
    assert charts.svgs["by-sector"]["bars"] == [(sector_name, 2.0)]
    provinces = charts.svgs["by-province"]["bars"]
    assert len(provinces) == 34
    by_name = dict(provinces)
    for code, count in stats["listings"]["by_province"].items():
        assert by_name[taxonomy.province(code).vi] == count
    assert sum(v for _, v in provinces) == 2
    assert [v for _, v in charts.svgs["offers-vs-demands"]["bars"]] == [1.0, 1.0]
    interests = stats["interests"]
    assert [v for _, v in charts.svgs["interests"]["bars"]] == [
        interests["accepted"],
        interests["declined"],
        interests["pending"],
    ]
    stages = stats["deals"]["by_stage"]
    assert [v for _, v in charts.svgs["deals-by-stage"]["bars"]] == list(stages.values())
    months = stats["over_time"]
    assert len(months) == 1
    assert [v for _, v in charts.svgs["over-time"]["bars"]] == [700_000_000, 0]
    assert f"{sector_name}: 2" in charts.svgs["by-sector"]["desc"]
    # Each chart has its figures as a table as well, for those who do not see the chart.
    assert len(charts.tables) == 6
    assert [sector_name, "2"] in charts.tables[0]
    assert [months[0]["period"], "700.000.000", "0"] in charts.tables[5]
    assert "700.000.000 VND" in html
    # Only aggregates: no listing, organization or contact is on the page.
    for private in (p.offer["id"], p.offer["title"], p.seller_org["contact_email"], "an.nguyen"):
        assert private not in html
    # Nothing is loaded from elsewhere: no script, stylesheet or font.
    assert (
        "<script" not in html
        and "src=" not in html
        and "<link" not in re.sub(r'<link rel="(canonical|icon)"', "", html)
    )
    assert re.findall(r'href="((?:https?:)?//[^"]*)"', html) == ["http://127.0.0.1:8000/stats"]


async def test_the_stats_page_speaks_english_when_asked(client, conn):
    vi = await client.get("/stats", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert '<html lang="vi">' in vi.text and vi.headers["content-language"] == "vi"
    for asked in ({"params": {"lang": "en"}}, {"headers": {"Accept-Language": "en-US,en;q=0.9,vi;q=0.5"}}):
        en = await client.get("/stats", **asked)
        assert en.status_code == 200 and en.headers["content-language"] == "en"
        assert '<html lang="en">' in en.text and "<h1>Exchange statistics</h1>" in en.text
        assert "Published listings by province (34 units)" in en.text and "Ho Chi Minh City" in en.text
    # ?lang= wins over Accept-Language, and an unknown one falls back to it.
    assert "<h1>Thống kê" in (await client.get("/stats?lang=vi", headers={"Accept-Language": "en"})).text
    assert "<h1>Exchange" in (await client.get("/stats?lang=xx", headers={"Accept-Language": "en"})).text
    empty = charts_of((await client.get("/stats?lang=en")).text)
    assert empty.svgs["by-sector"]["bars"] == [] and "No figures yet" in empty.svgs["by-sector"]["desc"]
    assert len(empty.svgs["by-province"]["bars"]) == 34
    assert empty.svgs["over-time"]["bars"] == []
