"""Key terms: glossary terms found in a text, and the words a long text is best searched by."""

import re
import unicodedata
from collections import Counter
from functools import cache

from matching.engine import fold
from matching.glossary import GLOSSARY

_WORD = re.compile(r"[0-9a-z]+(?:[-.][0-9a-z]+)*")
_SPELLED_WORD = re.compile(r"\w+")
# Words that say nothing about which technology is meant, in either language (folded).
FILLER = frozenset(
    """
    a an and are as at be by can for from has have in into is it its of on or our that the their this to
    we with which who will would should could need needs needed looking seeking want wants require requires
    required solution solutions technology technologies system systems process method product products
    company enterprise our us use used using based new high low more than per about also such other
    va cua cho cac nhung mot voi trong tren duoi la co duoc khong can nhu cau muon tim kiem giai phap
    cong nghe he thong san pham doanh nghiep chung toi quy trinh phuong phap ung dung su dung moi cao thap
    hon theo tai ve de khi nay do da dang se viec nham bang tu den ra vao lai nhieu it rat cung
    """.split()
)


@cache
def _groups() -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(dict.fromkeys(fold(t) for t in group)) for group in GLOSSARY)


@cache
def _matcher() -> tuple[re.Pattern[str], dict[str, int]]:
    group_of = {term: i for i, group in enumerate(_groups()) for term in group}
    alternatives = sorted(group_of, key=len, reverse=True)
    pattern = re.compile(r"(?<![0-9a-z])(" + "|".join(re.escape(t) for t in alternatives) + r")(?![0-9a-z])")
    return pattern, group_of


def glossary_groups(text: str) -> list[int]:
    """Indexes of the glossary groups a text mentions, most mentioned first."""
    pattern, group_of = _matcher()
    counts = Counter(group_of[m.group(1)] for m in pattern.finditer(fold(text)))
    return [group for group, _ in counts.most_common()]


def group_terms(group: int) -> tuple[str, ...]:
    """Every (unaccented) spelling of one glossary group."""
    return _groups()[group]


def group_label(group: int) -> str:
    """How a glossary group is named in explanations: its first term as written."""
    return GLOSSARY[group][0]


def expansions(text: str) -> list[str]:
    """Every spelling, in both languages, of each glossary term a text mentions."""
    return [term for group in glossary_groups(text) for term in group_terms(group)]


def salient_words(text: str, limit: int) -> list[str]:
    """The most frequent informative words of a text (unaccented), for texts the glossary does not cover."""
    counts = Counter(w for w in _WORD.findall(fold(text)) if len(w) > 1 and w not in FILLER and not w.isdigit())
    return [w for w, _ in counts.most_common(limit)]


def spelled_words(text: str) -> frozenset[str]:
    """The words of a text as written: lower-case, with their diacritics."""
    return frozenset(_SPELLED_WORD.findall(unicodedata.normalize("NFC", text.lower())))


def has_diacritics(text: str) -> bool:
    """Whether a text carries Vietnamese diacritics (or đ): written, not typed without them."""
    return fold(text) != unicodedata.normalize("NFC", text.lower())
