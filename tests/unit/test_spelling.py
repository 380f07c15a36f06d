"""Restoring the diacritics of Vietnamese typed without them, from counted spellings."""

from collections import Counter

from matching import spelling


def known_of(*texts: str) -> dict[str, dict[str, int]]:
    """The spellings of these texts as the spellings table holds them."""
    counts: Counter[tuple[str, str]] = Counter()
    for text in texts:
        counts.update(spelling.spellings(text))
    known: dict[str, dict[str, int]] = {}
    for (folded, written), n in counts.items():
        known.setdefault(folded, {})[written] = n
    return known


def test_spellings_count_words_and_pairs_by_their_letters_without_diacritics():
    counts = spelling.spellings("Nuôi ong, nuôi cá")
    assert counts[("nuoi", "nuôi")] == 2
    assert counts[("nuoi ong", "nuôi ong")] == 1
    assert counts[("ong nuoi", "ong nuôi")] == 1
    assert ("ca", "cá") in counts


def test_wanted_lists_the_folded_words_and_pairs_of_a_text():
    assert spelling.wanted("Nuoi ong mat") == ["mat", "nuoi", "nuoi ong", "ong", "ong mat"]


def test_the_word_before_picks_the_spelling():
    # "ong" is written ông most often, but after "nuôi" it is ong (bees), and before "nước" it is ống (a pipe).
    known = known_of("ông chủ", "ông bà", "ông ấy", "nuôi ong lấy mật", "ống nước", "ống dẫn", "nuôi cá")
    assert spelling.restored("nuoi ong lay mat", known) == "nuôi ong lấy mật"
    assert spelling.restored("ong nuoc", known) == "ống nước"
    assert spelling.restored("ong chu", known) == "ông chủ"


def test_a_word_alone_takes_its_commonest_spelling():
    known = known_of("mật ong", "mật ong", "mặt trời")
    assert spelling.restored("mat", known) == "mật"


def test_unknown_words_case_and_punctuation_stay_as_typed():
    known = known_of("xử lý nước thải", "QCVN")
    assert spelling.restored("Xu ly NUOC thai (QCVN 62), COD 1.200 mg/L", known) == (
        "Xử lý NƯỚC thải (QCVN 62), COD 1.200 mg/L"
    )
    assert spelling.restored("", known) == ""


def test_only_vietnamese_typed_without_diacritics_is_restored():
    assert spelling.restorable("xu ly nuoc thai", "vi")
    assert not spelling.restorable("xử lý nước thải", "vi")
    assert not spelling.restorable("wastewater treatment", "en")


def test_only_vietnamese_written_with_diacritics_is_counted():
    assert spelling.spelled_by("xử lý nước thải", "vi")
    assert not spelling.spelled_by("xu ly nuoc thai", "vi")
    assert not spelling.spelled_by("café wastewater", "en")
