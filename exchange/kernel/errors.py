"""Domain errors and their one mapping to RFC 9457 problem details."""

import logging
import re
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from exchange.kernel.schemas import PLAIN_TEXT, FieldError, Problem

log = logging.getLogger("exchange.kernel.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status: int = 400
    type: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self, detail: str, *, errors: list[FieldError] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers


class BadRequest(DomainError):
    status, type, title = 400, "bad-request", "Bad request"


class Unauthorized(DomainError):
    status, type, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, type, title = 403, "forbidden", "Not allowed"


class NotFound(DomainError):
    status, type, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, type, title = 409, "conflict", "Conflict"


class InvalidTransition(Conflict):
    type, title = "invalid-transition", "Invalid state transition"


class PreconditionFailed(DomainError):
    status, type, title = 412, "precondition-failed", "Precondition failed"


class UnsupportedMediaType(DomainError):
    status, type, title = 415, "unsupported-media-type", "Unsupported media type"


class Unprocessable(DomainError):
    status, type, title = 422, "validation-error", "Invalid request"


class TooManyRequests(DomainError):
    status, type, title = 429, "too-many-requests", "Too many requests"


class Unavailable(DomainError):
    status, type, title = 503, "unavailable", "Temporarily unavailable"


def field_error(field: str, message: str) -> Unprocessable:
    """A 422 about one field of the body."""
    return Unprocessable(f"{field}: {message}", errors=[FieldError(field=field, message=message)])


def field_conflict(field: str, message: str) -> Conflict:
    """A 409 naming the field (or the precondition) that conflicts with the current state."""
    return Conflict(f"{field}: {message}", errors=[FieldError(field=field, message=message)])


def param_error(field: str, message: str) -> BadRequest:
    """A 400 about one query parameter."""
    return BadRequest(f"{field}: {message}", errors=[FieldError(field=field, message=message)])


def problem_response(
    status: int,
    type_: str,
    title: str,
    detail: str,
    errors: list[FieldError] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """One problem detail; `extra` holds the members of its own type, after the standard ones."""
    body = Problem(type=f"/problems/{type_}", title=title, status=status, detail=detail, errors=errors)
    # A value, not bytes: an idempotent route stores its response by encoding the content (remember_idempotent).
    content = {**msgspec.to_builtins(body), **(extra or {})}
    return Response(content=content, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


# How long a client should wait before trying again after a 503 (a dependency away, the pool exhausted).
RETRY_AFTER_SECONDS = 2


def _domain_error(_: Request, exc: DomainError) -> Response:
    response = problem_response(exc.status, exc.type, exc.title, exc.detail, exc.errors)
    if exc.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _database_away(request: Request, exc: Exception) -> Response:
    if isinstance(exc, asyncpg.InterfaceError) and "closed" not in str(exc):
        return _unexpected_error(request, exc)  # a misuse of a connection is a bug, not an outage
    log.warning("the database is not reachable: %r", exc)
    return _domain_error(request, Unavailable("the database is not reachable; retry shortly"))


_BACKTICK = re.compile(r"`([^`]+)`")
_AT_PATH = re.compile(r" - at `\$((?:\.\w+|\[\d+\])*)`$")


def _field_of(item: dict) -> tuple[str, str]:
    """Name the field a Litestar/msgspec validation item is about, and a clean message."""
    message = str(item.get("message", "invalid value"))
    key = str(item.get("key") or "")
    at = _AT_PATH.search(message)
    if at:
        message = message[: at.start()]
        if at.group(1):
            key = at.group(1).lstrip(".")
    if PLAIN_TEXT in message.replace("\\\\", "\\"):
        message = "must not contain control characters"
    key = "" if key == "data" else key  # Litestar's name for the whole body
    named = _BACKTICK.search(message)
    if named and ("unknown field" in message or "missing required field" in message):
        key = f"{key}.{named.group(1)}" if key else named.group(1)
    if not key and str(item.get("source", "")) == "body" and not named:
        message = "a JSON body is required"
    return key or "body", message


def decode_error_field(exc: msgspec.ValidationError | msgspec.DecodeError) -> FieldError:
    """The field a msgspec decoding error is about, named as a 422 of the API would name it."""
    field, message = _field_of({"message": str(exc), "source": "body"})
    return FieldError(field=field, message=message)


def _validation_error(_: Request, exc: ValidationException) -> Response:
    items = exc.extra if isinstance(exc.extra, list) else []
    errors = [FieldError(field=f, message=m) for f, m in (_field_of(i) for i in items if isinstance(i, dict))]
    from_body = any(str(i.get("source", "")) == "body" for i in items if isinstance(i, dict))
    status = 422 if from_body else 400
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors) or "the request is not valid"
    return problem_response(status, "validation-error", "Invalid request", detail, errors or None)


_HTTP_TYPES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}


def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code >= 500:
        return _unexpected_error(request, exc)
    type_, title = _HTTP_TYPES.get(exc.status_code, ("http-error", "Request failed"))
    detail = exc.detail if exc.status_code != 413 else "the request body is larger than 1 MiB"
    response = problem_response(exc.status_code, type_, title, str(detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def _unique_violation(_: Request, exc: asyncpg.UniqueViolationError) -> Response:
    return problem_response(409, "conflict", "Conflict", "a resource with these unique values already exists")


def _unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = request.scope.get("state", {}).get("request_id", "-")
    log.error("unhandled error, request_id=%s", request_id, exc_info=exc, extra={"request_id": request_id})
    return problem_response(
        500, "internal-error", "Internal error", f"an unexpected error occurred (request id {request_id})"
    )


EXCEPTION_HANDLERS = {
    DomainError: _domain_error,
    ValidationException: _validation_error,
    HTTPException: _http_error,
    asyncpg.UniqueViolationError: _unique_violation,
    # A failover, a restart or a lost connection: the request can be retried, it did not fail.
    asyncpg.PostgresConnectionError: _database_away,
    asyncpg.exceptions.OperatorInterventionError: _database_away,
    asyncpg.InterfaceError: _database_away,
    # Connecting to a server that is down: refused on TCP, no socket file on a unix socket.
    OSError: _database_away,
    Exception: _unexpected_error,
}
