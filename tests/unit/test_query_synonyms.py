"""Which glossary synonyms queries still need: only those a document's `terms` field cannot stand in for."""

import pytest

from matching import engine, terms

pytestmark = pytest.mark.unit


def test_query_synonyms_are_a_subset_of_the_glossary_synonyms():
    every, kept = engine.synonyms(), engine.query_synonyms()
    assert kept and len(kept) < len(every)
    assert all(every[term] == target for term, target in kept.items())
    assert engine.index_settings("offer").synonyms == kept


def test_a_dropped_synonym_is_carried_by_every_document_that_says_its_target():
    # A document mentioning the target alone gets the query term in its `terms`: the synonym adds no hit.
    kept = engine.query_synonyms()
    for term, [target] in engine.synonyms().items():
        if term not in kept:
            assert engine.fold(term) in terms.expansions(target), (term, target)


def test_only_one_word_synonyms_remain_and_only_where_an_overlapping_term_hides_their_target():
    # "shrimp feed" is read as one term of another group (thức ăn thủy sản): a listing saying it has no "tom" in its
    # terms, so the one-word synonym tôm -> shrimp still finds it.
    assert "tom" not in terms.expansions("Low-cost shrimp feed from insect protein")
    kept = engine.query_synonyms()
    assert kept["tôm"] == ["shrimp"]
    assert all(" " not in term and " " not in target for term, [target] in kept.items())
    assert "effluent" not in kept and "wastewater treatment" not in kept
