"""API schemas of notification settings and unsubscribing."""

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from exchange.kernel.schemas import ApiStruct, InputStruct

Topic = Literal["matches", "interests", "deals", "invoices", "expiry"]


class NotificationSettings(InputStruct, kw_only=True):
    """What mail a member gets: whether any, in which language, matches at once or daily, and about which topics.

    A field left out keeps its current value (the default for a member who never set any)."""

    email: bool | UnsetType = UNSET
    """False stops every mail to this member (default true)."""
    language: Literal["vi", "en"] | UnsetType = UNSET
    """Default vi."""
    digest: Literal["immediate", "daily", "off"] | UnsetType = UNSET
    """New matches of your subscriptions: one mail each (the default), one a day, or none."""
    topics: Annotated[list[Topic], msgspec.Meta(max_length=5)] | UnsetType = UNSET
    """The kinds of mail wanted (default all five); an unsubscribe link removes its own."""


class NotificationSettingsOut(ApiStruct, kw_only=True):
    """A member's notification settings."""

    email: bool
    language: str
    digest: str
    topics: list[str]


class UnsubscribedOut(ApiStruct, kw_only=True):
    """The topic a token turned off, and the topics still on."""

    unsubscribed: str
    topics: list[str]
