"""What the model reads of a listing, and the cache key that follows from it."""

import pytest

from matching import embeddings

pytestmark = pytest.mark.unit


def test_texts_alike_in_what_the_model_reads_share_a_cache_key_and_others_do_not():
    head = "Màng lọc MBR\n" + "x" * embeddings.MAX_CHARS
    assert embeddings.text_hash(head + " tail one") == embeddings.text_hash(head + " another tail")
    assert embeddings.text_hash("Màng lọc MBR") != embeddings.text_hash("Màng lọc UF")
    assert embeddings.text_hash(head) != embeddings.text_hash("Y" + head)
    assert len(embeddings.text_hash("")) == 32
