"""HTTP conventions shared by every route: request ids, ETags, cursors, idempotency, docs."""

import base64
import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar
from uuid import UUID

import asyncpg
import msgspec
from litestar import Response
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, QueryParameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from exchange.kernel.auth import Principal
from exchange.kernel.errors import PROBLEM_MEDIA_TYPE, BadRequest, Conflict, PreconditionFailed
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

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Give every request an id (the caller's X-Request-ID if sane) and echo it on the response."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with_id)

    return middleware


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
        if not tag.isdigit():
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


def json_response(body: bytes, version: int, status_code: int = 200) -> Response:
    """A JSON body already encoded, with the ETag of its version."""
    return Response(body, status_code=status_code, media_type="application/json", headers={"ETag": etag(version)})


def not_modified(version: int) -> Response:
    """304: the caller's copy of this version is current; no body, the ETag repeated."""
    return Response(b"", status_code=304, headers={"ETag": etag(version)})


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
        return msgspec.json.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)), type=shape)
    except (ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise BadRequest(f"{parameter}: not a cursor returned by this API") from None


class StoredResponse(msgspec.Struct, frozen=True):
    """The first response to an idempotent request."""

    status: int
    body: bytes


async def claim_idempotency_key(conn: asyncpg.Connection, scope: str, key: str, request: Any) -> StoredResponse | None:
    """Claim key for this request, or return the response already given to it.

    The claim is a row in the request's own transaction: a concurrent retry waits on it and then
    sees the committed response; a failed request rolls the claim back with everything else.
    """
    if not 1 <= len(key) <= 255:
        raise BadRequest("Idempotency-Key: must be 1 to 255 characters")
    request_hash = hashlib.sha256(msgspec.json.encode(request)).digest()
    claimed = await conn.fetchval(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status, body) VALUES ($1, $2, $3, 0, '')"
        " ON CONFLICT DO NOTHING RETURNING true",
        scope,
        key,
        request_hash,
    )
    if claimed:
        return None
    row = await conn.fetchrow(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2", scope, key
    )
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
    if stored is None:
        return None
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


class _Keyed(Protocol):
    created_at: datetime
    id: UUID


R = TypeVar("R", bound=_Keyed)
T = TypeVar("T")


def next_cursor(rows: Sequence[Any], limit: int) -> str | None:
    """The cursor after a page, from up to limit + 1 rows in (created_at, id) order; None when the extra row is not there."""
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor(last.created_at, last.id)


def page_of(rows: Sequence[R], limit: int, convert: Callable[[R], T]) -> Page[T]:
    """A page from up to limit + 1 rows in (created_at, id) order; the extra row only says there is more."""
    return Page(items=[convert(r) for r in rows[:limit]], next_cursor=next_cursor(rows, limit))


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
    422: "The body is not valid; `errors` names each field",
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
