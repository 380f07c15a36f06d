"""Base Structs shared by every API schema: one naming rule, keyword-only fields."""

from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec


class ApiStruct(msgspec.Struct, kw_only=True):
    """Base of every response Struct."""


class InputStruct(ApiStruct, kw_only=True, forbid_unknown_fields=True):
    """Base of every request body Struct: unknown fields are refused with 422."""


class Money(InputStruct, kw_only=True):
    """An amount in the currency's minor unit (VND has none)."""

    amount: Annotated[int, msgspec.Meta(ge=0, le=10**15)]
    currency: Literal["VND"] = "VND"


T = TypeVar("T")

# No control characters but tab and line breaks: PostgreSQL refuses NUL in text, and the others
# have no place in a listing.
PLAIN_TEXT = r"\A[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*\Z"
_ADDRESS_PART = r"[^@\s\x00-\x1f\x7f]+"
EMAIL_PATTERN = rf"^{_ADDRESS_PART}@{_ADDRESS_PART}\.{_ADDRESS_PART}$"
URL_PATTERN = r"^https?://[^\s\x00-\x1f\x7f]+$"


def text(min_length: int = 0, max_length: int = 5000, description: str | None = None) -> Any:
    """A string input without control characters, within length bounds."""
    return Annotated[
        str, msgspec.Meta(min_length=min_length, max_length=max_length, pattern=PLAIN_TEXT, description=description)
    ]


Email = Annotated[str, msgspec.Meta(max_length=254, pattern=EMAIL_PATTERN)]
Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-fA-F]{64}$", description="A hex SHA-256")]
Url = Annotated[str, msgspec.Meta(max_length=300, pattern=URL_PATTERN)]


class Page(ApiStruct, Generic[T], kw_only=True):
    """A page of a list with an opaque cursor to the next one."""

    items: list[T]
    next_cursor: str | None


class Problem(ApiStruct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list["FieldError"] | None = None


class FieldError(ApiStruct, kw_only=True):
    """One field-level problem of a request."""

    field: str
    message: str
