"""Base Structs shared by every API schema: one naming rule, keyword-only fields."""

from typing import Annotated, Generic, Literal, TypeVar

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
