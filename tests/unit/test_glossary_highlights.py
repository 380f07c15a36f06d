"""Highlights of glossary terms in the other language: a hit found through `terms` still shows why it matched."""

import pytest

from matching import search

pytestmark = pytest.mark.unit


def test_the_equivalents_of_the_query_terms_are_marked_in_either_language_and_spelling():
    english = search.glossary_pattern("xu ly nuoc thai chan nuoi")
    assert search.mark_terms("MBR for Livestock farming: wastewater treatment", english) == (
        "MBR for <em>Livestock farming</em>: <em>wastewater treatment</em>"
    )
    vietnamese = search.glossary_pattern("livestock wastewater")
    assert search.mark_terms("Xử lý nước thải chăn nuôi heo", vietnamese) == "Xử lý <em>nước thải chăn nuôi</em> heo"


def test_passages_meilisearch_marked_are_left_alone_and_words_inside_others_are_not_marked():
    pattern = search.glossary_pattern("wastewater")
    assert (
        search.mark_terms("<em>wastewater</em> and nước thải", pattern) == "<em>wastewater</em> and <em>nước thải</em>"
    )
    assert search.mark_terms("nước thảibiến", pattern) == "nước thảibiến"


def test_highlights_keep_only_fields_with_a_mark_and_cut_the_description_around_the_first():
    description = " ".join(f"w{n}" for n in range(60)) + " Máy sấy bơm nhiệt. " + " ".join(f"v{n}" for n in range(60))
    hit = {
        "_formatted": {"title": "Solar heat pump dryer", "summary": "Dries <em>beans</em>"},
        "listing": {"description": description},
    }
    found = search.highlights(hit, "dryer bean")
    assert found["title"] == "Solar heat pump <em>dryer</em>"
    assert found["summary"] == "Dries <em>beans</em>"
    passage = found["description"]
    assert passage.startswith("...w53 ") and passage.endswith("...")
    assert "<em>Máy sấy</em> bơm nhiệt." in passage and len(passage.split()) == search.CROP_WORDS
    assert search.highlights(hit, "zqxw") == {"summary": "Dries <em>beans</em>"}
    assert search.highlights(hit, None) == {}
