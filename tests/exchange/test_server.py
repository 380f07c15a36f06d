"""uvicorn as `exchange serve` runs it: a request line and headers past MAX_HEADER_BYTES get 431 before they are kept."""

import json
import tracemalloc

import msgspec
import pytest

from tests.conftest import served
from tests.support import raw_exchange, raw_get

LIMIT = 8 * 1024
CHUNK = 64 * 1024


@pytest.fixture
def settings(settings):
    """This module's servers allow 8 KiB of request line and headers (the default is 16 KiB)."""
    return msgspec.structs.replace(settings, max_header_bytes=LIMIT)


def assert_refused(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), answer[:300]
    assert b"connection: close" in head.lower()
    assert b"content-type: application/problem+json" in head.lower()
    assert b"x-content-type-options: nosniff" in head.lower()
    problem = json.loads(body)
    assert problem["status"] == 431 and str(LIMIT) in problem["detail"]


async def test_headers_past_the_limit_get_431_and_the_connection_closes(settings):
    async with served(settings) as url:
        many = {f"X-Filler-{n}": "v" * 1000 for n in range(12)}
        # reader.read() returns only once the server has closed the connection.
        assert_refused(await raw_exchange(url, [raw_get("/health/live", many), raw_get("/health/live", {})]))


async def test_a_64_mib_header_is_cut_off_without_being_kept(settings):
    async with served(settings) as url:
        start = b"GET /health/live HTTP/1.1\r\nHost: test\r\nX-Huge: "
        filler = b"a" * CHUNK
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            answer = await raw_exchange(url, [start, *(filler for _ in range(1024))])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert_refused(answer)
        # Kept whole, the header alone would be 64 MiB; cut off, the server holds about one read of the socket.
        assert peak - base < 8 * 1024 * 1024, f"peak {peak - base} bytes"


async def test_heads_under_the_limit_and_large_bodies_are_served(settings):
    async with served(settings) as url:
        near = {f"X-Filler-{n}": "v" * 1000 for n in range(7)}
        # Three heads of 7 KiB on one connection: each is counted on its own.
        answer = await raw_exchange(
            url,
            [
                raw_get("/health/live", near),
                raw_get("/health/live", near),
                raw_get("/health/live", {**near, "Connection": "close"}),
            ],
        )
        assert answer.count(b"HTTP/1.1 200 ") == 3, answer[:300]
        # A small head with a 900 KiB body in one write: the body is not counted as head.
        body = msgspec.json.encode({"name": "x" * 900_000})
        post = (
            b"POST /v1/organizations HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        answer = await raw_exchange(url, [post])
        assert answer.startswith(b"HTTP/1.1 422 "), answer[:300]
