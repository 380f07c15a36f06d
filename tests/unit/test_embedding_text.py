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


async def test_texts_read_side_by_side_get_the_latent_terms_each_gets_alone():
    texts = [
        "Màng lọc sinh học MBR xử lý nước thải chế biến thủy sản",
        "Vacuum dehumidification of raw honey for export cooperatives",
        "Cảm biến sợi quang đo biến dạng cáp văng cầu dây văng",
    ]
    together = (await embeddings.encoded(texts))[1]
    alone = [(await embeddings.encoded([text]))[1][0] for text in texts]
    assert len(together) == len(texts) == embeddings.RUNS_AT_ONCE + 1
    for a, b in zip(together, alone, strict=True):
        assert a.ids == b.ids and a.weights == pytest.approx(b.weights, abs=1e-6)
    assert together[0].ids != together[1].ids
