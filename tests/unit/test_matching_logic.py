"""Pure matching logic: constraints, filters, glossary terms, synonyms and score calibration."""

from datetime import UTC, datetime

import pytest

from exchange.kernel.errors import BadRequest
from matching import constraints, embeddings, engine, matches, search, terms
from matching.glossary import GLOSSARY
from matching.schemas import SearchFilters

pytestmark = pytest.mark.unit

DEMAND = {
    "kind": "demand",
    "sector": "207",
    "trl_min": 6,
    "preferred_transfer_modes": ["license"],
    "budget_max": {"amount": 1_000_000_000, "currency": "VND"},
    "region": "92",
}
OFFER = {
    "kind": "offer",
    "sector": "207",
    "trl": 7,
    "transfer_modes": ["license", "consulting"],
    "price": {"amount": 800_000_000, "currency": "VND"},
    "region": "92",
}


def test_every_constraint_holds_for_a_fitting_offer():
    checks = constraints.check_all(DEMAND, OFFER)
    assert set(checks) == set(constraints.CONSTRAINTS)
    assert all(c.holds for c in checks.values())


@pytest.mark.parametrize(
    ("change", "broken"),
    [
        ({"sector": "401"}, "sector"),
        ({"trl": 4}, "trl"),
        ({"trl": None}, "trl"),
        ({"transfer_modes": ["assignment"]}, "transfer_mode"),
        ({"price": {"amount": 1_000_000_001, "currency": "VND"}}, "budget"),
        ({"region": "79"}, "region"),
    ],
)
def test_each_constraint_breaks_alone_and_says_why(change, broken):
    checks = constraints.check_all(DEMAND, {**OFFER, **change})
    assert [name for name, c in checks.items() if not c.holds] == [broken]
    assert checks[broken].detail


def test_unstated_sides_do_not_break_constraints():
    open_demand = {**DEMAND, "trl_min": None, "preferred_transfer_modes": [], "budget_max": None}
    negotiable = {**OFFER, "price": None, "transfer_modes": []}
    checks = constraints.check_all(open_demand, negotiable)
    assert all(checks[name].holds for name in ("trl", "transfer_mode", "budget"))
    assert constraints.budget(DEMAND, negotiable).holds  # a negotiable price fits any budget


def test_filter_clauses_map_parameters_onto_each_kind():
    now = datetime(2026, 11, 22, tzinfo=UTC)
    filters = SearchFilters(
        sector="207",
        trl_min=3,
        trl_max=8,
        transfer_mode=["license", "consulting"],
        region="Sóc Trăng",
        price_max=10,
        language="vi",
    )
    offer = search.filter_clauses("offer", filters, now)
    assert offer == [
        f"expires_at > {int(now.timestamp())}",
        'sector = "207"',
        "trl >= 3",
        "trl <= 8",
        'transfer_modes IN ["license", "consulting"]',
        'region = "92"',
        "price_amount <= 10",
        'language = "vi"',
    ]
    demand = search.filter_clauses("demand", filters, now)
    assert "trl_min >= 3" in demand and "budget_amount <= 10" in demand


def test_bad_filters_name_the_parameter():
    with pytest.raises(BadRequest, match="trl_min"):
        search.filter_clauses("offer", SearchFilters(trl_min=8, trl_max=2))
    with pytest.raises(BadRequest, match="region"):
        search.filter_clauses("offer", SearchFilters(region="Atlantis"))
    with pytest.raises(BadRequest, match="ip_status"):
        search.filter_clauses("demand", SearchFilters(ip_status="know_how"))
    with pytest.raises(BadRequest, match="facets"):
        search.facet_list("offer", "sector,owner_org_id")


def test_quoted_filter_values_cannot_break_out():
    assert search.quoted('a" OR sector = "1') == '"a\\" OR sector = \\"1"'


def test_fold_removes_diacritics_and_d_stroke():
    assert engine.fold("Xử lý NƯỚC thải Đồng Nai") == "xu ly nuoc thai dong nai"


def test_glossary_terms_are_found_with_or_without_diacritics_and_expand_to_both_languages():
    assert terms.glossary_groups("He thong xu ly nuoc thai") == terms.glossary_groups("Hệ thống xử lý nước thải")
    expanded = terms.expansions("Công nghệ xử lý nước thải bằng màng MBR")
    assert "wastewater treatment" in expanded and "membrane bioreactor" in expanded


def test_synonyms_are_two_way_and_include_unaccented_spellings():
    mapping = engine.synonyms()
    assert mapping["xử lý nước thải"] == ["wastewater treatment"]
    assert mapping["xu ly nuoc thai"] == ["wastewater treatment"]
    assert mapping["wastewater treatment"] == mapping["effluent treatment"] == ["xử lý nước thải"]
    # Each term stands for one term of the other language.
    english = {t for group in GLOSSARY for t in group if engine.fold(t) == t}
    vietnamese = {t for group in GLOSSARY for t in group if engine.fold(t) != t}
    assert all(len(others) == 1 for others in mapping.values())
    assert all(engine.fold(mapping[t][0]) != mapping[t][0] for t in english)
    assert all(engine.fold(mapping[t][0]) == mapping[t][0] for t in vietnamese)


def test_semantic_scores_are_stretched_and_clipped():
    assert matches.semantic_score(0.0) == 0.0
    assert matches.semantic_score(matches.SEMANTIC_FLOOR) == 0.0
    assert matches.semantic_score(1.0) == 1.0
    middle = (matches.SEMANTIC_FLOOR + matches.SEMANTIC_CEILING) / 2
    assert matches.semantic_score(middle) == pytest.approx(0.5)


def test_latent_similarity_is_the_cosine_over_shared_features():
    a = embeddings.Latents([3, 7, 11], [0.6, 0.8, 0.0])
    b = embeddings.Latents([7, 3, 20], [0.6, 0.0, 0.8])
    assert embeddings.similarity(a, b) == pytest.approx(0.48)
    assert embeddings.similarity(b, a) == pytest.approx(0.48)
    assert embeddings.similarity(a, a) == pytest.approx(1.0)
    assert embeddings.similarity(a, embeddings.Latents([1, 2], [0.6, 0.8])) == 0.0


def test_constraint_breakers_rank_below_keepers_of_the_same_relevance():
    keeper = matches.Candidate(
        listing=OFFER | {"id": "keeper"}, terms=["nước thải"], term_weight=2.0, bag=0.8, semantic=0.8
    )
    breaker = matches.Candidate(
        listing=OFFER | {"id": "breaker", "trl": 3}, terms=["nước thải"], term_weight=2.0, bag=0.8, semantic=0.8
    )
    stranger = matches.Candidate(listing=OFFER | {"id": "stranger"}, bag=0.1, semantic=0.1)
    probes = [matches.Probe(label="nước thải", query="nuoc thai", weight=2.0)]
    items = matches.rank(DEMAND, {"b": breaker, "k": keeper, "s": stranger}, probes)
    assert [i.listing["id"] for i in items] == ["keeper", "breaker"]
    assert items[1].explanation.broken_constraints == ["trl"]
    assert items[0].score > items[1].score


def test_a_candidate_close_in_meaning_alone_is_kept_below_those_sharing_terms_and_a_far_one_is_not():
    keeper = matches.Candidate(listing=OFFER | {"id": "keeper"}, terms=["nước thải"], term_weight=2.0, bag=0.5)
    close = matches.Candidate(listing=OFFER | {"id": "close"}, semantic=0.9)
    # Closeness alone that stays under the relevance floor.
    far = matches.Candidate(
        listing=OFFER | {"id": "far"}, semantic=0.8 * matches.MIN_RELEVANCE / matches.WEIGHT_SEMANTIC
    )
    probes = [matches.Probe(label="nước thải", query="nuoc thai", weight=2.0)]
    items = matches.rank(DEMAND, {"c": close, "k": keeper, "f": far}, probes)
    assert [i.listing["id"] for i in items] == ["keeper", "close"]
    assert items[1].score == pytest.approx(matches.WEIGHT_SEMANTIC * 0.9)
    # Without both texts' latent terms nothing says the close one is close; the others' words stand for the whole.
    unknown = matches.Candidate(listing=OFFER | {"id": "unknown"})
    assert matches.rank(DEMAND, {"u": unknown}, probes) == []
    [alone] = matches.rank(DEMAND, {"k": keeper}, probes)
    assert alone.score == pytest.approx(
        (matches.WEIGHT_TERMS + matches.WEIGHT_BAG * 0.5) / (matches.WEIGHT_TERMS + matches.WEIGHT_BAG), abs=1e-4
    )


def test_a_candidate_whose_closeness_is_not_known_yet_counts_as_the_listings_typical_candidate():
    words = {"terms": ["nước thải"], "term_weight": 2.0, "bag": 0.5}
    near = matches.Candidate(listing=OFFER | {"id": "near"}, semantic=0.9, **words)
    far = matches.Candidate(listing=OFFER | {"id": "far"}, semantic=0.3, **words)
    unknown = matches.Candidate(listing=OFFER | {"id": "unknown"}, **words)
    probes = [matches.Probe(label="nước thải", query="nuoc thai", weight=2.0)]
    items = matches.rank(DEMAND, {"n": near, "f": far, "u": unknown}, probes)
    assert [i.listing["id"] for i in items] == ["near", "unknown", "far"]
    scores = {i.listing["id"]: i.score for i in items}
    assert scores["unknown"] == pytest.approx((scores["near"] + scores["far"]) / 2, abs=1e-4)
    # The explanation does not claim a closeness nobody measured.
    assert next(i for i in items if i.listing["id"] == "unknown").explanation.semantic_similarity == 0.0


def test_a_keyword_written_with_diacritics_counts_only_where_a_text_written_with_them_has_its_very_words():
    probe = matches.keyword_probe("Nuôi ong")
    assert (probe.label, probe.spelled) == ("nuôi ong", {"nuôi", "ong"})
    assert matches.keyword_probe("nuoi ong").spelled is None

    def listing(listing_id: str, language: str, text: str) -> dict:
        return OFFER | {"id": listing_id, "language": language, "title": text, "description": text, "keywords": []}

    views = {
        "pump": listing("pump", "vi", "Bơm ống nhựa cho ao nuôi tôm"),
        "bees": listing("bees", "vi", "Máy quay mật cho hợp tác xã nuôi ong"),
        "plain": listing("plain", "vi", "May quay mat cho hop tac xa nuoi ong"),
        "english": listing("english", "en", "Honey extractor for beekeeping (nuoi ong) cooperatives"),
    }

    class Result:
        def __init__(self, ids):
            self.hits = [{"id": i} for i in ids]

    # What Meilisearch returns for the keyword (it compares words without diacritics), then the word bag's hits.
    found = matches.collect([Result(views), Result([])], [probe], semantic=False, views=views)
    assert {k for k, c in found.items() if c.terms} == {"bees", "plain", "english"}
    assert "pump" not in found
    assert terms.spelled_words("Ống NHỰA, nuôi-ong") == {"ống", "nhựa", "nuôi", "ong"}
    assert terms.has_diacritics("nuôi ong") and not terms.has_diacritics("nuoi ong")
