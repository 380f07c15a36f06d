"""Rules of mail: members' settings, unsubscribing, and queueing a message once per recipient."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel import auth, taxonomy
from exchange.kernel.auth import Principal
from exchange.kernel.errors import NotFound, field_error
from exchange.kernel.settings import Settings
from exchange.mail import messages, repo, tokens
from exchange.mail.messages import Content, label
from exchange.mail.repo import MailSettingsRow, Recipient
from exchange.mail.schemas import NotificationSettings, NotificationSettingsOut, UnsubscribedOut

log = logging.getLogger("exchange.mail")

EXPIRY_WARNING_DAYS = 14


def to_out(row: MailSettingsRow) -> NotificationSettingsOut:
    """Settings as the API shows them."""
    return NotificationSettingsOut(email=row.email, language=row.language, digest=row.digest, topics=row.topics)


async def get_settings(conn: asyncpg.Connection, principal: Principal | None) -> MailSettingsRow:
    """The caller's own settings (any member, operators included)."""
    return await repo.get_settings(conn, auth.require(principal).member_id)


async def put_settings(
    conn: asyncpg.Connection, principal: Principal | None, data: NotificationSettings
) -> MailSettingsRow:
    """Change the caller's own settings: the fields given, the others kept."""
    principal = auth.require(principal)
    current = await repo.get_settings(conn, principal.member_id)
    changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if "topics" in changes:
        topics = [t for t in tokens.TOPICS if t in changes["topics"]]
        if len(topics) != len(changes["topics"]):
            raise field_error("topics", "each topic may be named once")
        changes["topics"] = topics
    return await repo.put_settings(conn, principal.member_id, msgspec.structs.replace(current, **changes))


async def unsubscribe(conn: asyncpg.Connection, settings: Settings, token: str | None) -> UnsubscribedOut:
    """Turn off the one topic a signed token names, for the member it names."""
    if not token:
        raise field_error("token", "the unsubscribe token from the email is required")
    try:
        found = tokens.verify(tokens.secret_key(settings), token)
    except tokens.BadToken as exc:
        raise field_error("token", str(exc)) from None
    row = await repo.turn_off_topic(conn, found.member_id, found.topic)
    if row is None:
        raise NotFound("token: the member it names no longer exists")
    log.info("member %s unsubscribed from %s", found.member_id, found.topic)
    return UnsubscribedOut(unsubscribed=found.topic, topics=row.topics)


def check_token(settings: Settings, token: str | None) -> str:
    """The topic a valid token names (for the confirmation page); a 4xx naming `token` otherwise."""
    try:
        return tokens.verify(tokens.secret_key(settings), token or "").topic
    except tokens.BadToken as exc:
        raise field_error("token", str(exc)) from None


def wants(recipient: Recipient, topic: str) -> bool:
    """Whether a member takes mail on this topic at all."""
    return recipient.email and topic in recipient.topics


async def queue(
    conn: asyncpg.Connection,
    settings: Settings,
    recipients: list[Recipient],
    kind: str,
    key: str,
    content: Callable[[str], Content | None],
) -> int:
    """Queue one message of this kind about `key` to each recipient who wants it, in their language; return how many
    were new (a second call for the same key queues nothing)."""
    topic = messages.TOPIC_OF[kind]
    secret = tokens.secret_key(settings)
    queued = 0
    seen: set[UUID] = set()
    for recipient in recipients:
        if recipient.member_id in seen or not wants(recipient, topic):
            continue
        seen.add(recipient.member_id)
        body = content(recipient.language)
        if body is None:
            continue
        token = tokens.sign(secret, recipient.member_id, topic)
        unsubscribe_url = f"{settings.base_url}/v1/unsubscribe?token={token}"
        rendered = messages.render(body, recipient.language, recipient.name, unsubscribe_url)
        queued += await repo.enqueue(
            conn,
            {
                "key": key,
                "member_id": recipient.member_id,
                "kind": kind,
                "topic": topic,
                "recipient": recipient.address,
                "language": recipient.language,
                "subject": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "unsubscribe_url": unsubscribe_url,
            },
        )
    return queued


def listing_url(settings: Settings, listing: repo.ListingView) -> str:
    """The API address of a listing."""
    return f"{settings.base_url}/v1/{listing.kind}s/{listing.id}"


def page_url(settings: Settings, listing: repo.ListingView) -> str:
    """The public page of a published listing (GET /offers/{id}), else its API address."""
    if listing.status != "published":
        return listing_url(settings, listing)
    return f"{settings.base_url}/{listing.kind}s/{listing.id}"


def place_names(listing: repo.ListingView, language: str) -> tuple[str, str]:
    """A listing's sector and province by name, in the member's language."""
    lang = "en" if language == "en" else "vi"
    return taxonomy.sector_name(listing.sector, lang), taxonomy.province_name(listing.region, lang)


def listing_facts(listing: repo.ListingView, language: str) -> list[tuple[str, str]]:
    """The public facts of a listing, sector and province by name."""
    sector, province = place_names(listing, language)
    return [
        (label(language, "title"), listing.title),
        (label(language, "sector"), sector),
        (label(language, "region"), province),
    ]


def digest_line(listing: repo.ListingView, language: str) -> str:
    """A listing's line in a digest: title (sector, province)."""
    sector, province = place_names(listing, language)
    return f"{listing.title} ({sector}, {province})"


async def build_digests(conn: asyncpg.Connection, settings: Settings, now: datetime | None = None) -> int:
    """Queue one digest per member of the matches kept before today (UTC) began; return how many were queued."""
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    due = await repo.due_digest_items(conn, today)
    queued = 0
    for member_id, listing_ids in due.items():
        recipient = await repo.member(conn, member_id)
        views = await repo.listings(conn, list(dict.fromkeys(listing_ids)))
        published = [views[i] for i in dict.fromkeys(listing_ids) if i in views and views[i].status == "published"]
        # Kept for a digest and then switched to immediate: still told once, in this digest; switched off: not.
        if recipient is not None and recipient.digest != "off" and published:

            def content(language: str, published: list[repo.ListingView] = published) -> Content:
                return Content(
                    kind="digest",
                    fields={"count": len(published)},
                    items=[(digest_line(v, language), page_url(settings, v)) for v in published],
                )

            queued += await queue(conn, settings, [recipient], "digest", f"digest:{today.date()}", content)
        await repo.mark_digested(conn, member_id, today)
    return queued


async def warn_expiring(conn: asyncpg.Connection, settings: Settings) -> int:
    """Warn the owners of published listings expiring within 14 days: once per listing and expiry date."""
    queued = 0
    for listing in await repo.expiring_listings(conn, EXPIRY_WARNING_DAYS):
        assert listing.expires_at is not None
        expires_at = listing.expires_at

        def content(language: str, listing: repo.ListingView = listing, expires_at: datetime = expires_at) -> Content:
            return Content(
                kind="listing_expiring",
                fields={
                    "title": listing.title,
                    "listing_kind": listing.kind,
                    "expires": messages.day(expires_at, language),
                },
                facts=[
                    *listing_facts(listing, language),
                    (label(language, "expires"), messages.day(expires_at, language)),
                ],
                link=(label(language, "renew"), f"{listing_url(settings, listing)}/renew"),
            )

        key = f"{listing.id}:{expires_at.astimezone(UTC).date()}"
        recipients = await repo.org_members(conn, [listing.owner_org_id])
        queued += await queue(conn, settings, recipients, "listing_expiring", key, content)
    return queued
