"""Vietnamese typed without diacritics, read back with them: the spellings the catalogue's own texts use most.

The model reads Vietnamese typed without diacritics poorly (`nuoi ong` is not `nuôi ong` to it), and any word may be
written so, in any industry. So each plain Vietnamese text gets back, before the model reads it, the diacritics its
words carry most often in the Vietnamese listings written with them, after the word before: the likeliest spelling
of the whole text (Viterbi over words, with counts of spelled words and of pairs of them)."""

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping

from matching.engine import fold
from matching.terms import has_diacritics

_WORD = re.compile(r"\w+")
# How much a spelling's own frequency counts against the evidence of the word before it (in counts of that pair).
PRIOR_WEIGHT = 2.0


def restorable(text: str, language: str | None) -> bool:
    """Whether a text is Vietnamese typed without diacritics, so the model reads it with them restored."""
    return language == "vi" and not has_diacritics(text)


def spelled_by(text: str, language: str | None) -> bool:
    """Whether a text is Vietnamese written with diacritics, so its spellings count."""
    return language == "vi" and has_diacritics(text)


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text.lower()))


def spellings(text: str) -> Counter[tuple[str, str]]:
    """How often a text writes each word and each pair of consecutive words, by their letters without diacritics."""
    words = _words(text)
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return Counter((fold(w), w) for w in [*words, *pairs])


def wanted(text: str) -> list[str]:
    """The words and pairs, without diacritics, whose spellings restoring a text needs."""
    return sorted({folded for folded, _ in spellings(text)})


def restored(text: str, known: Mapping[str, Mapping[str, int]]) -> str:
    """The text with each word spelled as the likeliest sequence of known spellings makes it; unknown words stay."""
    matches = list(_WORD.finditer(text))
    # For each spelling of the current word: the best log-probability of the text up to it, and the path there.
    best: dict[str, tuple[float, list[str]]] = {"": (0.0, [])}
    folded_before = ""
    for m in matches:
        folded = fold(m.group())
        forms = known.get(folded) or {m.group().lower(): 0}
        total = sum(forms.values())
        step: dict[str, tuple[float, list[str]]] = {}
        for form, count in forms.items():
            prior = count / total if total else 1.0
            options = []
            for before, (score, path) in best.items():
                if before:
                    pair = known.get(f"{folded_before} {folded}", {}).get(f"{before} {form}", 0)
                    seen = known.get(folded_before, {}).get(before, 0)
                    options.append((score + math.log((pair + PRIOR_WEIGHT * prior) / (seen + PRIOR_WEIGHT)), path))
                else:
                    options.append((score + math.log(prior), path))
            score, path = max(options, key=lambda o: o[0])
            step[form] = (score, [*path, form])
        best, folded_before = step, folded
    chosen = max(best.values(), key=lambda b: b[0])[1] if matches else []
    out, last = [], 0
    for m, form in zip(matches, chosen, strict=True):
        out.append(text[last : m.start()])
        out.append(_cased(m.group(), form))
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def _cased(typed: str, form: str) -> str:
    if fold(typed) != fold(form) or typed.lower() == form:
        return typed
    if typed.isupper() and len(typed) > 1:
        return form.upper()
    return form[:1].upper() + form[1:] if typed[:1].isupper() else form
