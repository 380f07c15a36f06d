"""The shape of the Vietnamese↔English glossary used for synonyms and key terms."""

import unicodedata

import pytest

from matching.glossary import GLOSSARY

pytestmark = pytest.mark.unit

GENERIC = {
    "công nghệ",
    "technology",
    "hệ thống",
    "system",
    "giải pháp",
    "solution",
    "thiết bị",
    "equipment",
    "sản phẩm",
    "product",
}


def unaccented(term: str) -> str:
    """The spelling Meilisearch and the matcher compare: diacritics dropped, đ as d."""
    decomposed = unicodedata.normalize("NFD", term.replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def test_at_least_180_groups_of_two_or_more_terms():
    assert len(GLOSSARY) >= 180
    assert all(isinstance(group, tuple) and len(group) >= 2 for group in GLOSSARY)


def test_terms_are_clean_lower_case_nfc():
    for group in GLOSSARY:
        for term in group:
            assert isinstance(term, str) and term, group
            assert term == term.strip() and "  " not in term, term
            assert term == term.lower(), term
            assert term == unicodedata.normalize("NFC", term), term
            assert all(ch.isprintable() for ch in term), term


def test_each_group_has_a_vietnamese_and_an_english_term():
    for group in GLOSSARY:
        # Some Vietnamese terms are written without diacritics ("tro bay"), so only one term of the group must have them.
        assert any(not term.isascii() for term in group), group
        assert any(term.isascii() for term in group), group


def test_no_term_is_in_two_groups_even_without_diacritics():
    seen: dict[str, int] = {}
    for index, group in enumerate(GLOSSARY):
        for term in group:
            key = unaccented(term)
            assert seen.setdefault(key, index) == index, f"{term!r} is also in {GLOSSARY[seen[key]]}"


def test_no_term_repeats_within_its_group_without_diacritics():
    for group in GLOSSARY:
        keys = [unaccented(term) for term in group]
        assert len(keys) == len(set(keys)), group


def test_no_generic_term():
    terms = {term for group in GLOSSARY for term in group}
    assert not terms & GENERIC


@pytest.mark.parametrize(
    ("vietnamese", "english"),
    [
        ("năng lượng mặt trời", "solar energy"),
        ("điện mặt trời", "photovoltaic"),
        ("dây chuyền", "production line"),
        ("chế phẩm sinh học", "bio-product"),
        ("máy sấy", "dryer"),
        ("cảm biến", "sensor"),
        ("xử lý nước thải", "wastewater treatment"),
        ("nuôi tuần hoàn", "recirculating aquaculture"),
        ("trí tuệ nhân tạo", "artificial intelligence"),
        ("thị giác máy", "machine vision"),
        ("robot hàn", "welding robot"),
        ("vắc-xin", "vaccine"),
        ("dược liệu", "medicinal plants"),
        ("bê tông", "concrete"),
        ("đường sắt", "railway"),
        ("xúc tác", "catalyst"),
        ("sấy thăng hoa", "freeze drying"),
        ("cá tra", "pangasius"),
        ("phân bón vi sinh", "biofertilizer"),
        ("an ninh mạng", "cybersecurity"),
        ("chip bán dẫn", "semiconductor"),
        ("lưu trữ năng lượng", "bess"),
    ],
)
def test_common_terms_translate(vietnamese, english):
    group = next((g for g in GLOSSARY if vietnamese in g), None)
    assert group is not None, vietnamese
    assert english in group


def test_demo_data_key_terms_are_covered():
    terms = {term for group in GLOSSARY for term in group}
    for term in (
        "mbr",
        "uasb",
        "biogas",
        "iot",
        "uav",
        "rtk",
        "iqf",
        "hpp",
        "ocr",
        "llm",
        "5g",
        "plc",
        "agv",
        "ras",
        "pcr",
        "elisa",
    ):
        assert term in terms, term
