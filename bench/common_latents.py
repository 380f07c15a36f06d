"""The latent-term features that say nothing of which technology a text describes: embeddings.UNINFORMATIVE.

Read from the demo catalogue (exchange/demo/listings.json, in neither evaluation set): features active in more than
half of its listings (they say that a text describes a technology), and features active in more than a tenth of one
language's listings and over three times as often as in the other's (they say which language it is written in)."""

import json
from collections import Counter
from pathlib import Path

from matching import documents, embeddings

CATALOGUE = Path(__file__).resolve().parent.parent / "exchange" / "demo" / "listings.json"
COMMON_SHARE = 0.5
LANGUAGE_SHARE, LANGUAGE_RATIO = 0.1, 3.0


def uninformative_features() -> list[int]:
    """The features to leave out of latent terms, by the two rules above."""
    items = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    counts: dict[str, Counter[int]] = {"vi": Counter(), "en": Counter()}
    for item in items:
        text = documents.view_embedding_text(item)[: embeddings.MAX_CHARS]
        ids, _ = embeddings.model().sparse(text, top_k=embeddings.LATENTS, fmt="indices")
        counts[item["language"]].update(int(i) for i in ids)
    sizes = {lang: sum(1 for item in items if item["language"] == lang) for lang in counts}
    share = {lang: {f: n / sizes[lang] for f, n in counts[lang].items()} for lang in counts}
    found = set()
    for f in counts["vi"].keys() | counts["en"].keys():
        vi, en = share["vi"].get(f, 0.0), share["en"].get(f, 0.0)
        overall = (counts["vi"][f] + counts["en"][f]) / len(items)
        if overall > COMMON_SHARE:
            found.add(f)
        for mine, other in ((vi, en), (en, vi)):
            if mine > LANGUAGE_SHARE and mine > LANGUAGE_RATIO * other:
                found.add(f)
    return sorted(found)


if __name__ == "__main__":
    features = uninformative_features()
    print(f"{len(features)} features:")
    print(" ".join(map(str, features)))
    print(
        "the same as embeddings.UNINFORMATIVE"
        if set(features) == embeddings.UNINFORMATIVE
        else "not embeddings.UNINFORMATIVE"
    )
