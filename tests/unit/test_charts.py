"""The SVG charts of the statistics page and the words around them: pure functions, no server."""

import xml.etree.ElementTree as ET

import pytest

from exchange.pages import charts, labels
from exchange.pages.charts import Bar, Point

pytestmark = pytest.mark.unit
SVG = "{http://www.w3.org/2000/svg}"


def _parsed(markup: str) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    return root


def _bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


def test_a_bar_chart_draws_one_bar_per_figure_scaled_to_the_largest():
    root = _parsed(charts.bar_chart("c", "Listings", [Bar("A", 10), Bar("B", 5), Bar("C", 0)], empty="none"))
    bars = _bars(root)
    assert [b.get("data-label") for b in bars] == ["A", "B", "C"]
    widths = [float(b.get("width")) for b in bars]
    assert widths[0] == charts.WIDTH - charts.LABEL_WIDTH - charts.VALUE_WIDTH - 2 * charts.PAD
    assert widths[1] == pytest.approx(widths[0] / 2) and widths[2] == 0
    assert root.find(f"{SVG}title").text == "Listings"
    assert root.find(f"{SVG}desc").text == "A: 10; B: 5; C: 0"
    assert root.get("aria-labelledby") == "c-title c-desc"
    # Every bar's value is written beside it, not only drawn.
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "value"] == ["10", "5", "0"]


def test_a_chart_escapes_its_text():
    markup = charts.bar_chart("x", 'Title <script>"', [Bar('<img src=x onerror="1">', 1)], empty="-")
    assert "<script>" not in markup and "<img" not in markup
    root = _parsed(markup)
    assert root.find(f"{SVG}title").text == 'Title <script>"'
    assert _bars(root)[0].get("data-label") == '<img src=x onerror="1">'


def test_a_long_label_is_cut_beside_its_bar_and_kept_whole_in_its_tooltip():
    name = "Pharmacy and pharmaceutical sciences, long form"
    root = _parsed(charts.bar_chart("l", "Sectors", [Bar(name, 3), Bar("Law", 1)], empty="-"))
    shown = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "label"]
    assert shown[0].endswith("…") and len(shown[0]) == charts.LABEL_CHARS and name.startswith(shown[0][:-1])
    assert shown[1] == "Law"
    assert _bars(root)[0].get("data-label") == name and _bars(root)[0].find(f"{SVG}title").text == f"{name}: 3"


def test_a_chart_without_figures_says_so_in_words():
    root = _parsed(charts.bar_chart("e", "Sectors", [], empty="No figures yet"))
    assert _bars(root) == [] and root.find(f"{SVG}desc").text == "No figures yet"
    assert _bars(_parsed(charts.share_chart("s", "Split", [Bar("a", 0), Bar("b", 0)], empty="none"))) == []
    assert _bars(_parsed(charts.column_chart("t", "Months", ("x",), [], empty="none"))) == []


def test_a_share_chart_splits_one_bar_into_its_parts():
    root = _parsed(charts.share_chart("s", "Offers and demands", [Bar("Offers", 3), Bar("Demands", 1)], empty="-"))
    bars = _bars(root)
    widths = [float(b.get("width")) for b in bars]
    assert sum(widths) == pytest.approx(charts.WIDTH - 2 * charts.PAD)
    assert widths[0] == pytest.approx(3 * widths[1])
    assert float(bars[1].get("x")) == pytest.approx(float(bars[0].get("x")) + widths[0])
    assert root.find(f"{SVG}desc").text == "Offers: 3 (75.0%); Demands: 1 (25.0%)"


def test_a_column_chart_draws_each_series_in_each_period():
    points = [Point("2026-10", (100.0, 10.0)), Point("2026-11", (0.0, 0.0)), Point("2026-12", (50.0, 5.0))]
    root = _parsed(charts.column_chart("t", "Value", ("agreed", "fees"), points, empty="-"))
    bars = _bars(root)
    assert len(bars) == 6
    heights = [float(b.get("height")) for b in bars]
    assert heights[0] == max(heights) and heights[4] == pytest.approx(heights[0] / 2)
    assert heights[2] == heights[3] == 0
    # Columns stand on one baseline, left to right in time.
    assert len({float(b.get("y")) + float(b.get("height")) for b in bars}) == 1
    xs = [float(b.get("x")) for b in bars]
    assert xs == sorted(xs)
    assert "2026-10: agreed 100, fees 10" in root.find(f"{SVG}desc").text


def test_the_page_language_comes_from_the_query_then_accept_language_then_vietnamese():
    assert labels.pick("en", "vi") == "en"
    assert labels.pick(None, "en-US,en;q=0.9") == "en"
    assert labels.pick(None, "fr;q=1, vi;q=0.4, en;q=0.8") == "en"
    assert labels.pick(None, "en;q=0, vi") == "vi"
    assert labels.pick("xx", "de") == "vi"
    assert labels.pick(None, None) == "vi"
    assert labels.pick(None, "en;q=abc") == "vi"


def test_numbers_and_money_are_written_as_each_language_writes_them():
    assert labels.number(1234567, "vi") == "1.234.567" and labels.number(1234567, "en") == "1,234,567"
    assert labels.short_money(2_500_000_000, "vi") == "2,5 tỷ" and labels.short_money(2_500_000_000, "en") == "2.5 bn"
    assert labels.short_money(7_000_000, "en") == "7 m" and labels.short_money(999, "vi") == "999"
    assert labels.percent(0.6667, "vi") == "66,7%" and labels.percent(0.5, "en") == "50.0%"
    assert labels.province("79", "en") == "Ho Chi Minh City" and labels.province("zz", "vi") == "zz"
    assert set(labels.words("vi")) == set(labels.words("en")) == set(labels.WORDS)
