"""API schemas of notification settings and unsubscribing."""

from typing import Annotated, Literal

import msgspec

from exchange.kernel.schemas import ApiStruct, InputStruct

Topic = Literal["matches", "interests", "deals", "invoices", "expiry"]


class NotificationSettings(InputStruct, kw_only=True):
    """What mail a member gets: whether any, in which language, matches at once or daily, and about which topics."""

    email: bool = True
    """False stops every mail to this member."""
    language: Literal["vi", "en"] = "vi"
    digest: Literal["immediate", "daily", "off"] = "immediate"
    """New matches of your subscriptions: one mail each, one a day, or none."""
    topics: Annotated[list[Topic], msgspec.Meta(max_length=5)] = msgspec.field(
        default_factory=lambda: ["matches", "interests", "deals", "invoices", "expiry"]
    )
    """The kinds of mail wanted; an unsubscribe link removes its own."""


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
