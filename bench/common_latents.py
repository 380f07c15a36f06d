"""The latent-term features active in more than half of the demo catalogue's listings: embeddings.COMMON."""

import json
from collections import Counter
from pathlib import Path

from matching import documents, embeddings

CATALOGUE = Path(__file__).resolve().parent.parent / "exchange" / "demo" / "listings.json"
SHARE = 0.5


def common_features() -> list[int]:
    """Features among each listing's strongest embeddings.LATENTS, in more than SHARE of the catalogue's listings."""
    items = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    counts: Counter[int] = Counter()
    for item in items:
        text = documents.view_embedding_text(item)[: embeddings.MAX_CHARS]
        ids, _ = embeddings.model().sparse(text, top_k=embeddings.LATENTS, fmt="indices")
        counts.update(int(i) for i in ids)
    return sorted(f for f, n in counts.items() if n > SHARE * len(items))


if __name__ == "__main__":
    found = common_features()
    print(f"{len(found)} features: {found}")
    print("the same as embeddings.COMMON" if set(found) == embeddings.COMMON else "not embeddings.COMMON")
