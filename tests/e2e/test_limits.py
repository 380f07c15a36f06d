"""`exchange serve` with several workers bounds every request head: 431 over 16 KiB, served under it."""

from tests.support import raw_exchange, raw_get


async def test_every_worker_answers_an_over_long_head_with_431(server):
    over = {f"X-Filler-{n}": "v" * 1000 for n in range(17)}
    under = {f"X-Filler-{n}": "v" * 1000 for n in range(15)}
    # Several connections, so that both worker processes are likely to take some.
    for _ in range(6):
        answer = await raw_exchange(server.base_url, [raw_get("/health/live", over)])
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:300]
        answer = await raw_exchange(server.base_url, [raw_get("/health/live", {**under, "Connection": "close"})])
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
