"""The matching benchmark's ranking metrics, and the consistency of its evaluation set."""

import math

import msgspec
import pytest

from bench.matching_eval import SETS, create_body, load_set, ndcg_at_k, other_language_only, recall_at_k, style
from listings.schemas import DemandCreate, OfferCreate
from matching.terms import glossary_groups

pytestmark = pytest.mark.unit

GRADES = {"a": 3, "b": 2, "c": 1}


def test_ideal_ranking_scores_one():
    assert ndcg_at_k(["a", "b", "c"], GRADES) == pytest.approx(1.0)
    assert recall_at_k(["a", "b", "c"], GRADES) == 1.0


def test_ndcg_uses_graded_gains_and_log_discount():
    # DCG of [b, a] = 3/log2(2) + 7/log2(3); ideal = 7 + 3/log2(3) + 1/log2(4).
    expected = (3 + 7 / math.log2(3)) / (7 + 3 / math.log2(3) + 1 / 2)
    assert ndcg_at_k(["b", "a"], GRADES) == pytest.approx(expected)


def test_unjudged_and_foreign_items_gain_nothing_but_take_a_rank():
    assert ndcg_at_k(["x", None, "a"], {"a": 3}) == pytest.approx(1 / math.log2(4))
    assert ndcg_at_k([], GRADES) == 0.0


def test_only_the_top_k_count():
    ranked = [f"x{i}" for i in range(10)] + ["a"]
    assert ndcg_at_k(ranked, GRADES, k=10) == 0.0
    assert recall_at_k(ranked, GRADES, k=10) == 0.0
    assert recall_at_k(ranked, GRADES, k=11) == 0.5


def test_a_repeated_item_counts_once():
    assert ndcg_at_k(["a", "a"], {"a": 3, "b": 3}) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert recall_at_k(["a", "a"], {"a": 3, "b": 3}) == 0.5


def test_recall_counts_grade_two_and_up_as_relevant():
    assert recall_at_k(["c"], GRADES) == 0.0
    assert recall_at_k(["b", "c"], GRADES) == 0.5
    assert recall_at_k(["c"], GRADES, threshold=1) == pytest.approx(1 / 3)


def test_nothing_judged_scores_zero():
    assert ndcg_at_k(["a"], {}) == 0.0
    assert recall_at_k(["a"], {"a": 1}) == 0.0


def test_style_tells_diacritics_apart():
    assert style({"language": "en", "title": "Shrimp", "description": "x", "keywords": []}) == "en"
    assert style({"language": "vi", "title": "Máy sấy lúa", "description": "x", "keywords": []}) == "vi"
    assert (
        style({"language": "vi", "title": "May say lua", "description": "50 tan/ngay", "keywords": ["trau"]})
        == "vi-ascii"
    )


def test_other_language_only_looks_at_the_relevant_offers():
    languages = {"a": "en", "b": "en", "c": "vi"}
    demand = {"language": "vi"}
    assert other_language_only(demand, {"a": 3, "b": 2, "c": 1}, languages)
    assert not other_language_only(demand, {"a": 3, "c": 2}, languages)
    assert not other_language_only({"language": "en"}, {"a": 3, "b": 2}, languages)
    assert not other_language_only(demand, {"c": 1}, languages)


@pytest.mark.parametrize(("name", "offers", "demands"), [("default", 160, 32), ("uncovered", 120, 25)])
def test_evaluation_set_is_consistent_and_valid_for_the_api(name, offers, demands):
    evalset = load_set(SETS[name])
    assert len(evalset.offers) >= offers and len(evalset.demands) >= demands
    orgs = {org["key"]: org["kind"] for org in evalset.organizations}
    offer_keys = [o["key"] for o in evalset.offers]
    demand_keys = [d["key"] for d in evalset.demands]
    assert len(set(offer_keys)) == len(offer_keys) and len(set(demand_keys)) == len(demand_keys)
    for offer in evalset.offers:
        assert orgs[offer["owner"]] == "institute"
        msgspec.convert(create_body(offer), OfferCreate)
    for demand in evalset.demands:
        assert orgs[demand["owner"]] == "enterprise"
        msgspec.convert(create_body(demand), DemandCreate)
    assert set(evalset.judgments) == set(demand_keys)
    for grades in evalset.judgments.values():
        assert set(grades) <= set(offer_keys)
        assert set(grades.values()) <= {1, 2, 3}
        assert 3 in grades.values()
    styles = [style(d) for d in evalset.demands]
    assert all(styles.count(s) >= 7 for s in ("vi", "vi-ascii", "en"))


def test_the_uncovered_set_has_cross_language_demands_and_no_glossary_term():
    evalset = load_set(SETS["uncovered"])
    languages = {o["key"]: o["language"] for o in evalset.offers}
    assert sum(other_language_only(d, evalset.judgments[d["key"]], languages) for d in evalset.demands) >= 6
    for grades in evalset.judgments.values():
        assert sum(g >= 2 for g in grades.values()) >= 2
    for item in evalset.offers + evalset.demands:
        text = " ".join([item["title"], item.get("summary", ""), item["description"], *item["keywords"]])
        assert glossary_groups(text) == [], item["key"]
