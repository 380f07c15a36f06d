"""How uvicorn serves the app: the HTTP protocol that bounds a request's head, and the proxies it trusts."""

import functools
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from exchange.kernel.schemas import Problem
from exchange.kernel.settings import Settings

# After a 431, input is read and dropped this long before the socket closes: closing with unread input makes the
# kernel send a reset, which can destroy the answer before the client reads it.
LINGER_SECONDS = 2.0


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, answering 431 once a request line and headers pass max_head_bytes.

    httptools has no limit of its own and keeps a header's partial value until it ends, so the bytes are counted
    before the parser sees them: it is never given more of a head than the limit."""

    def __init__(self, *args: Any, max_head_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head_bytes = max_head_bytes
        # What the head being read may still take; None while a body is read (the head is complete).
        self.head_room: int | None = max_head_bytes
        self.refused = False

    def on_headers_complete(self) -> None:
        self.head_room = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next bytes begin the next request's head (of a pipelined one, maybe in this same read).
        self.head_room = self.max_head_bytes

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return
        room = self.head_room
        if room is None or len(data) <= room:
            if room is not None:
                self.head_room = room - len(data)
            super().data_received(data)
            return
        # More than the head may still take: the parser gets only that much, and the rest only if the head ended.
        self.head_room = 0
        if room:
            super().data_received(data[:room])
        if self.transport.is_closing():
            return
        if self.head_room == 0:
            self.send_431_response()
            return
        self.data_received(data[room:])

    def send_431_response(self) -> None:
        """Answer 431 as a problem, stop reading requests, and close after the client has had time to stop sending."""
        self.refused = True
        body = msgspec.json.encode(
            Problem(
                type="/problems/request-header-fields-too-large",
                title="Request header fields too large",
                status=431,
                detail=f"the request line and headers are larger than {self.max_head_bytes} bytes",
            )
        )
        content = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/problem+json\r\n",
                b"x-content-type-options: nosniff\r\n",
                b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What every way of serving hands uvicorn: `exchange serve` (one worker or several) and the tests' servers."""
    return dict(
        http=functools.partial(BoundedHeadProtocol, max_head_bytes=settings.max_header_bytes),
        # The client address (rate limits) is the socket peer unless it is a proxy named in TRUSTED_PROXIES.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        server_header=False,
        # Uvicorn's loggers go through the process's own handler (JSON lines); the service logs each request itself.
        log_config=None,
        access_log=False,
    )
