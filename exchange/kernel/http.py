"""HTTP conventions shared by every route: request ids, ETags, cursors, idempotency, docs."""

import asyncio
import base64
import hashlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar
from uuid import UUID

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Reference
from litestar.params import HeaderParameter, QueryParameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from exchange.kernel import metrics
from exchange.kernel.auth import Principal
from exchange.kernel.db import borrowed
from exchange.kernel.errors import (
    PROBLEM_MEDIA_TYPE,
    BadRequest,
    Conflict,
    PreconditionFailed,
    Unavailable,
    UnsupportedMediaType,
)
from exchange.kernel.schemas import Page, Problem

BEARER = [{"BearerAuth": []}]
"""The OpenAPI security requirement of routes that need a key."""
Limit = Annotated[int, QueryParameter(ge=1, le=100, description="Page size (default 20, max 100)")]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", description="The ETag of the version being changed")]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(name="If-None-Match", description="The ETag of the copy the caller holds: 304 while it is current"),
]
Cursor = Annotated[str | None, QueryParameter(description="The next_cursor of the previous page")]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key", description="A retry with the same key and body returns the first response"
    ),
]

request_log = logging.getLogger("exchange.requests")

RequestId = NamedDependency[str]
"""A route parameter that receives the request's id (the X-Request-ID of its response), for the audit trail."""

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_READS = frozenset({"GET", "HEAD"})
# Response headers the service middleware sets itself, whatever a route gave.
_REPLACED = frozenset({b"x-content-type-options", b"x-request-id"})
_REPLACED_PRIVATE = _REPLACED | {b"cache-control"}
# ASCII digits only ("²".isdigit() is true), and no more than a version can have.
_VERSION = re.compile(r"[0-9]{1,18}")


def service_middleware(app: ASGIApp, methods_of: Callable[[str], str | None], cors: bool) -> ASGIApp:
    """Around every HTTP request: its id, its log line and metrics, the safety headers, and OPTIONS with Allow.

    - Request id: the caller's X-Request-ID if sane, else a new one; echoed on the response.
    - One log line per request: its id, method, route (the path template), path, status and duration.
    - Every response says nosniff; one to a keyed or writing request is never stored by a cache. Those are the
      responses that can carry a key, a webhook secret, contact data, confidential details or invoices; an anonymous
      read only ever gets what anyone may see.
    - OPTIONS on a known path answers all of its methods in Allow, with or without a key. With CORS on, a preflight
      (Origin and Access-Control-Request-Method) goes on to Litestar's CORS middleware.

    One wrapper, not one per concern: each would wrap `send` and copy the response's headers again."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        method = scope["method"]
        given = ""
        private = method not in _READS
        origin = preflight = False
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
            elif name == b"authorization":
                private = True
            elif name == b"origin":
                origin = True
            elif name == b"access-control-request-method":
                preflight = True
        request_id = given if given and _REQUEST_ID.match(given) else secrets.token_hex(16)
        scope.setdefault("state", {})["request_id"] = request_id
        added = [(b"x-content-type-options", b"nosniff"), (b"x-request-id", request_id.encode())]
        if private:
            added.append((b"cache-control", b"no-store"))
        replaced = _REPLACED_PRIVATE if private else _REPLACED
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [h for h in message.get("headers", ()) if h[0].lower() not in replaced] + added
            await send(message)

        in_progress = metrics.requests_in_progress(method)
        in_progress.inc()
        try:
            allow = None
            if method == "OPTIONS" and not (cors and origin and preflight):
                allow = methods_of(scope["path"])
            if allow is None:
                await app(scope, receive, send_with_headers)
            else:
                await send_with_headers(
                    {"type": "http.response.start", "status": 204, "headers": [(b"allow", allow.encode())]}
                )
                await send_with_headers({"type": "http.response.body", "body": b""})
        finally:
            in_progress.dec()
            seconds = time.perf_counter() - start
            # Set by Litestar's router on this same scope; None when no route matched.
            route = scope.get("path_template")
            metrics.count_request(method, route, scope["path"], status, seconds)
            if request_log.isEnabledFor(logging.INFO):
                fields = {
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                }
                request_log.info("%s %s %d", method, route or scope["path"], status, extra=fields)

    return middleware


async def provide_request_id(request: Request) -> str:
    """The id service_middleware gave this request."""
    return request.scope["state"]["request_id"]


# Deeper JSON than any body of this API needs; msgspec itself recurses until Python's stack runs out.
MAX_JSON_DEPTH = 32
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text (brackets inside strings do not count)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def check_body(request: Request) -> None:
    """Before any route: a body must be JSON (415), UTF-8 and at most MAX_JSON_DEPTH deep (400)."""
    if request.method not in _WITH_BODY:
        return
    body = await request.body()
    if not body:
        return
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    # RFC 8058 one-click unsubscribes POST an HTML form body; a route that takes it says so in its opt.
    if media_type in FORM_MEDIA_TYPES and request.route_handler.opt.get("accepts_form"):
        return
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(f"Content-Type: the body must be application/json, not {media_type or 'unnamed'}")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body: not valid UTF-8 (byte {exc.start})") from None
    # Counting brackets is quick; walking the text is needed only when there are more than the limit.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        raise BadRequest(f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")


def etag(version: int) -> str:
    """The ETag of a resource at a version."""
    return f'"{version}"'


def check_if_match(if_match: str | None, current_version: int) -> None:
    """412 when If-Match names a version other than the current one; absent means unconditional."""
    if if_match is None or if_match.strip() == "*":
        return
    wanted = set()
    for part in if_match.split(","):
        tag = part.strip().removeprefix("W/").strip('"')
        if not _VERSION.fullmatch(tag):
            raise BadRequest(f'If-Match: {part.strip()!r} is not a version ETag such as "3"')
        wanted.add(int(tag))
    if current_version not in wanted:
        raise PreconditionFailed(f"If-Match does not match: the current version is {current_version}")


def none_match(if_none_match: str | None, current_version: int) -> bool:
    """Whether If-None-Match names the current version (weak comparison, as RFC 9110 asks for it); absent is False."""
    if not if_none_match:
        return False
    current = str(current_version)
    return any(
        part.strip() == "*" or part.strip().removeprefix("W/").strip('"') == current
        for part in if_none_match.split(",")
    )


class EncodedResponse(Response[bytes]):
    """A body already encoded and its few headers, handed to the server as they are.

    Litestar would build a second response object and a header structure of its own, then encode both again: for a
    read whose body is stored, that was about a sixth of the request's time. Headers, cookies or background tasks a
    route's decorator adds still take Litestar's own path."""

    def __init__(self, body: bytes, status_code: int, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(body, status_code=status_code, media_type="application/json")
        self.encoded = headers

    def to_asgi_response(  # type: ignore[override]
        self,
        app: Any,
        request: Request,
        *,
        background: Any = None,
        cookies: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> ASGIApp:
        """This response itself, unless the route adds anything to it."""
        if background or cookies or headers:
            self.headers.update((k.decode("latin-1"), v.decode("latin-1")) for k, v in self.encoded)
            return super().to_asgi_response(
                app, request, background=background, cookies=cookies, headers=headers, **kwargs
            )
        return self.send_to

    async def send_to(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the status, the headers and the body."""
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.encoded})
        await send({"type": "http.response.body", "body": self.content, "more_body": False})


def json_response(body: bytes, version: int | None = None, status_code: int = 200) -> Response:
    """A JSON body already encoded, with the ETag of its version (if it has one)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if version is not None:
        headers.append((b"etag", etag(version).encode()))
    return EncodedResponse(body, status_code, headers)


def not_modified(version: int) -> Response:
    """304: the caller's copy of this version is current; no body, the ETag repeated."""
    return EncodedResponse(b"", 304, [(b"etag", etag(version).encode())])


TimePosition = tuple[datetime, UUID]
"""Where a page of a list ordered on (created_at, id) ends: the shape of most cursors."""


def encode_cursor(*position: Any) -> str:
    """An opaque cursor holding where a page ended (base64url of a JSON array)."""
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: Any = TimePosition, *, parameter: str = "cursor") -> Any:
    """The position in a cursor made by encode_cursor (None when absent); anything else is a 400 naming the parameter."""
    if not cursor:
        return None
    try:
        position = msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), type=shape)
        # A time that cannot be a moment in UTC (9999-12-31T23:59:59-14:00) would only fail in the database.
        for value in position:
            if isinstance(value, datetime):
                value.astimezone(UTC)
    except (ValueError, OverflowError, msgspec.DecodeError, msgspec.ValidationError):
        raise BadRequest(f"{parameter}: not a cursor returned by this API") from None
    return position


class StoredResponse(msgspec.Struct, frozen=True):
    """The first response to an idempotent request."""

    status: int
    body: bytes


def _request_hash(key: str, request: Any) -> bytes:
    if not 1 <= len(key) <= 255:
        raise BadRequest("Idempotency-Key: must be 1 to 255 characters")
    return hashlib.sha256(msgspec.json.encode(request)).digest()


async def claim_idempotency_key(conn: asyncpg.Connection, scope: str, key: str, request: Any) -> StoredResponse | None:
    """Claim key for this request, or return the response already given to it.

    The claim is a row in the request's own transaction: a concurrent retry waits on it and then
    sees the committed response; a failed request rolls the claim back with everything else.
    """
    request_hash = _request_hash(key, request)
    claimed = await conn.fetchval(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, body) VALUES ($1, $2, $3, 0, '')"
        " ON CONFLICT DO NOTHING RETURNING true",
        scope,
        key,
        request_hash,
    )
    if claimed:
        return None
    return await _stored(conn, scope, key, request_hash)


async def _stored(conn: asyncpg.Connection, scope: str, key: str, request_hash: bytes) -> StoredResponse | None:
    """The response stored for a key (status 0 while it is being answered); 409 for another request's key."""
    row = await conn.fetchrow(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key
    )
    if row is None:
        return None
    if row["request_hash"] != request_hash:
        raise Conflict("Idempotency-Key was already used with a different request body")
    return StoredResponse(row["status"], row["body"])


async def record_idempotent_response(conn: asyncpg.Connection, scope: str, key: str, status: int, body: bytes) -> None:
    """Store the response given to a claimed key, in the same transaction as the write."""
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2", scope, key, status, body
    )


class _Versioned(msgspec.Struct):
    version: int | None = None


async def replay_idempotent(
    conn: asyncpg.Connection, principal: Principal | None, scope: str, key: str | None, request: Any
) -> Response | None:
    """The first response when this member already used this Idempotency-Key for the same request (else claim it)."""
    if not key or principal is None:
        return None
    stored = await claim_idempotency_key(conn, f"{principal.member_id}:{scope}", key, request)
    return None if stored is None else _replayed(stored)


def _replayed(stored: StoredResponse) -> Response:
    headers = {"Idempotent-Replayed": "true"}
    media_type = PROBLEM_MEDIA_TYPE if stored.status >= 400 else "application/json"
    if stored.status < 400 and (version := msgspec.json.decode(stored.body, type=_Versioned).version) is not None:
        headers["ETag"] = etag(version)
    return Response(stored.body, status_code=stored.status, media_type=media_type, headers=headers)


async def remember_idempotent(
    conn: asyncpg.Connection, principal: Principal | None, scope: str, key: str | None, response: Response
) -> Response:
    """Store the response to a claimed Idempotency-Key, in the write's transaction; return the response."""
    if key and principal is not None:
        body = msgspec.json.encode(response.content)
        await record_idempotent_response(conn, f"{principal.member_id}:{scope}", key, response.status_code, body)
    return response


# A claim still unanswered after this many times its route's time limit was left by a process that died: taken over.
_ABANDONED_AFTER = 2
_POLL_FIRST, _POLL_MAX = 0.02, 0.25


async def once_per_key(
    state: State,
    principal: Principal | None,
    scope: str,
    key: str | None,
    request: Any,
    answer: Callable[[], Awaitable[Response]],
    *,
    within: float,
) -> Response:
    """Honour Idempotency-Key on a route that holds no transaction while it waits on a remote service.

    The claim is committed before the work, so a concurrent retry waits (up to `within` seconds, without a connection)
    for the first answer and replays it; a request that fails frees its key, as a rolled-back claim would."""
    if not key or principal is None:
        return await answer()
    scope = f"{principal.member_id}:{scope}"
    request_hash = _request_hash(key, request)
    deadline = asyncio.get_running_loop().time() + within
    delay = _POLL_FIRST
    while True:
        async with borrowed(state) as conn:
            claimed = await conn.fetchval(
                "INSERT INTO idempotency_keys (scope, key, request_hash, status, body) VALUES ($1, $2, $3, 0, '')"
                " ON CONFLICT (scope, key) DO UPDATE SET created_at = now()"
                " WHERE idempotency_keys.status = 0 AND idempotency_keys.request_hash = excluded.request_hash"
                " AND idempotency_keys.created_at < now() - make_interval(secs => $4)"
                " RETURNING true",
                scope,
                key,
                request_hash,
                _ABANDONED_AFTER * within,
            )
            stored = None if claimed else await _stored(conn, scope, key, request_hash)
        if claimed:
            break
        if stored is not None and stored.status:
            return _replayed(stored)
        if asyncio.get_running_loop().time() > deadline:
            raise Unavailable("a request with this Idempotency-Key is still being answered; retry shortly")
        await asyncio.sleep(delay)
        delay = min(2 * delay, _POLL_MAX)
    try:
        response = await answer()
    except BaseException:
        async with borrowed(state) as conn:
            await conn.execute("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 0", scope, key)
        raise
    async with borrowed(state) as conn:
        await record_idempotent_response(conn, scope, key, response.status_code, msgspec.json.encode(response.content))
    return response


class _Keyed(Protocol):
    created_at: datetime
    id: UUID


R = TypeVar("R", bound=_Keyed)
T = TypeVar("T")


def next_cursor(rows: Sequence[Any], limit: int, column: str = "created_at") -> str | None:
    """The cursor after a page, from up to limit + 1 rows in (column, id) order; None when the extra row is not there."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(getattr(last, column), last.id)


def page_of(rows: Sequence[R], limit: int, convert: Callable[[R], T], column: str = "created_at") -> Page[T]:
    """A page from up to limit + 1 rows in (column, id) order; the extra row only says there is more."""
    return Page(items=[convert(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit, column))


def page_body(items: Sequence[bytes], next_cursor: str | None) -> bytes:
    """A page's JSON from its items' JSON, byte for byte what encoding Page(items, next_cursor) gives."""
    return b'{"items":[' + b",".join(items) + b'],"next_cursor":' + msgspec.json.encode(next_cursor) + b"}"


_DESCRIPTIONS = {
    400: "Malformed request: a parameter or header is not valid",
    401: "No API key, or the key is not valid",
    403: "The key is valid but may not do this",
    404: "No such resource (or not visible to this caller)",
    409: "Conflicts with the resource's current state",
    412: "If-Match names a stale version; nothing was changed",
    413: "Request body larger than 1 MiB",
    415: "The body is not application/json",
    422: "The body is not valid; `errors` names each field",
    429: "A rate limit was reached (failed keys from this address, the key's budget, registrations): "
    "`Retry-After` says when to retry, `RateLimit-Policy` and `RateLimit` which limit it was",
    503: "A service this route depends on is temporarily away; retry later",
}


NOT_MODIFIED = {304: ResponseSpec(data_container=None, description="If-None-Match names the current version: no body")}
"""The OpenAPI entry of a read that answers If-None-Match."""


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Document the problem responses a route can give in the OpenAPI document."""
    return {
        s: ResponseSpec(data_container=Problem, description=_DESCRIPTIONS[s], media_type="application/problem+json")
        for s in statuses
    }


# What any route can answer besides its own problems: a body too large or not JSON, a rate limit of the key it
# carries (authentication runs on every route), a dependency away.
_BODY_PROBLEMS = (413, 415)
_ANY_ROUTE_PROBLEMS = (429, 503)


def document_common_problems(schema: OpenAPI) -> None:
    """Add to every operation the problem answers that the kernel, not the route, gives."""
    for item in (schema.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            statuses = (*_BODY_PROBLEMS, *_ANY_ROUTE_PROBLEMS) if operation.request_body else _ANY_ROUTE_PROBLEMS
            responses = operation.responses if operation.responses is not None else {}
            for status in statuses:
                responses.setdefault(
                    str(status),
                    OpenAPIResponse(
                        description=_DESCRIPTIONS[status],
                        content={
                            PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
                        },
                    ),
                )
            operation.responses = responses
