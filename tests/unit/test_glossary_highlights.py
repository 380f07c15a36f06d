"""Highlights of query words and their glossary equivalents: a hit found through `terms` still shows why it matched."""

import pytest

from matching import search

pytestmark = pytest.mark.unit


def marked(title: str, q: str) -> str | None:
    return search.highlights({"listing": {"title": title}}, q).get("title")


def test_the_equivalents_of_the_query_terms_are_marked_in_either_language_and_spelling():
    assert marked("MBR for Livestock farming: wastewater treatment", "xu ly nuoc thai chan nuoi") == (
        "MBR for <em>Livestock farming</em>: <em>wastewater treatment</em>"
    )
    assert marked("Xử lý nước thải chăn nuôi heo", "livestock wastewater") == "Xử lý <em>nước thải chăn nuôi</em> heo"


def test_query_words_are_marked_whole_the_last_as_a_prefix_and_never_inside_other_words():
    assert (
        marked("Solar heat pump dryer for beans", "dryer bean") == "Solar heat pump <em>dryer</em> for <em>beans</em>"
    )
    # Typed without diacritics, the glossary's "máy sấy" is marked as one term.
    assert marked("Máy sấy bơm nhiệt", "may say") == "<em>Máy sấy</em> bơm nhiệt"
    assert marked("Đèn LED công suất cao", "den cong") == "<em>Đèn</em> LED <em>công</em> suất cao"
    assert marked("nước thảibiến", "wastewater") is None


def test_highlights_keep_only_fields_with_a_mark_and_cut_the_description_around_the_first():
    description = " ".join(f"w{n}" for n in range(60)) + " Máy sấy bơm nhiệt. " + " ".join(f"v{n}" for n in range(60))
    hit = {"listing": {"title": "Solar heat pump dryer", "summary": "Dries beans", "description": description}}
    found = search.highlights(hit, "dryer bean")
    assert found["title"] == "Solar heat pump <em>dryer</em>"
    assert found["summary"] == "Dries <em>beans</em>"
    passage = found["description"]
    assert passage.startswith("...w53 ") and passage.endswith("...")
    assert "<em>Máy sấy</em> bơm nhiệt." in passage and len(passage.split()) == search.CROP_WORDS
    assert search.highlights(hit, "zqxw") == {}
    assert search.highlights(hit, "beans") == {"summary": "Dries <em>beans</em>"}
    assert search.highlights(hit, None) == {}


def test_a_passage_near_the_end_of_a_long_description_still_holds_its_words():
    description = " ".join(f"w{n}" for n in range(5000)) + " dryer at the end"
    passage = search.excerpt(description, search.query_pattern("dryer"))
    assert passage is not None and passage.startswith("...w4974 ") and passage.endswith("<em>dryer</em> at the end")
    assert len(passage.split()) == search.CROP_WORDS
