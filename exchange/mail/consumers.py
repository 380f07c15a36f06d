"""Mail's outbox consumer: each event becomes one queued message per member who should hear of it."""

import contextlib
import logging
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg
import msgspec

from exchange.kernel import outbox
from exchange.kernel.events import (
    AuctionCancelled,
    AuctionClosed,
    DealAgreed,
    DealCancelled,
    DealInvoiced,
    DealTermsProposed,
    InterestAccepted,
    InterestDeclined,
    InterestExpressed,
    InvoicePaid,
    InvoiceRefunded,
)
from exchange.kernel.settings import Settings
from exchange.mail import repo, service
from exchange.mail.messages import AUCTION_RESULT, Content, label, money

log = logging.getLogger("exchange.mail")

# Copies of events another consumer drains (the outbox_fanout table), and events only mail reads.
COPIED = ("notification.created", "deal.agreed", "deal.cancelled", "deal.invoiced")
OWN = (
    "interest.expressed",
    "interest.accepted",
    "interest.declined",
    "deal.terms_proposed",
    "invoice.paid",
    "invoice.refunded",
)
# Written for whoever should be told, and read by nobody else so far.
AUCTIONS = ("auction.closed", "auction.cancelled")
# The owner sees who accepted its NDA in the API; no mail for it (handled so that it does not pile up).
IGNORED = ("nda.accepted",)
TOPICS = tuple(f"mail:{t}" for t in COPIED) + OWN + AUCTIONS + IGNORED

MailEvent = (
    AuctionClosed
    | AuctionCancelled
    | DealAgreed
    | DealCancelled
    | DealInvoiced
    | DealTermsProposed
    | InterestExpressed
    | InterestAccepted
    | InterestDeclined
    | InvoicePaid
    | InvoiceRefunded
)


class Notified(msgspec.Struct, frozen=True, kw_only=True):
    """The part of matching's notification.created that mail reads."""

    id: UUID


async def on_notification(conn: asyncpg.Connection, settings: Settings, notification_id: UUID) -> int:
    """A subscription matched a published listing: its member hears of it now, in the next digest, or not at all."""
    note = await repo.notification(conn, notification_id)
    if note is None:
        return 0
    recipient = await repo.member(conn, note["member_id"])
    listing = (await repo.listings(conn, [note["listing_id"]])).get(note["listing_id"])
    if recipient is None or listing is None or listing.status != "published":
        return 0
    if not service.wants(recipient, "matches") or recipient.digest == "off":
        return 0
    if recipient.digest == "daily":
        await repo.add_digest_item(conn, recipient.member_id, note["id"], listing.id)
        return 0

    def content(language: str) -> Content:
        return Content(
            kind="match",
            fields={"title": listing.title, "listing_kind": listing.kind},
            facts=service.listing_facts(listing, language),
            link=(label(language, "view"), service.page_url(settings, listing)),
        )

    return await service.queue(conn, settings, [recipient], "match", str(notification_id), content)


async def on_interest(
    conn: asyncpg.Connection, settings: Settings, event: InterestExpressed | InterestAccepted | InterestDeclined
) -> int:
    """The owner's members hear of an interest received; the sender's members of its acceptance or decline."""
    listing = (await repo.listings(conn, [event.target_id])).get(event.target_id)
    interest = await repo.interest(conn, event.interest_id)
    if listing is None or interest is None:
        return 0
    if isinstance(event, InterestExpressed):
        kind, told, other = "interest_received", event.to_org_id, event.from_org_id
    else:
        kind = "interest_accepted" if isinstance(event, InterestAccepted) else "interest_declined"
        told, other = event.from_org_id, event.to_org_id
    org = await repo.org_name(conn, other)
    link = f"{settings.base_url}/v1/interests/{event.interest_id}"

    def content(language: str) -> Content:
        return Content(
            kind=kind,
            fields={"title": listing.title, "listing_kind": listing.kind, "org": org, "message": interest["message"]},
            link=(label(language, "view"), link),
        )

    return await service.queue(
        conn, settings, await repo.org_members(conn, [told]), kind, str(event.interest_id), content
    )


async def on_deal(
    conn: asyncpg.Connection, settings: Settings, event: DealTermsProposed | DealAgreed | DealCancelled
) -> int:
    """Every party's and the broker's members hear of new terms, agreement and cancellation."""
    deal = await repo.deal(conn, event.deal_id)
    if deal is None:
        return 0
    if isinstance(event, DealTermsProposed):
        kind, key, value = "deal_terms_proposed", f"{event.deal_id}:{event.terms_version}", event.value
    elif isinstance(event, DealAgreed):
        kind, key, value = "deal_agreed", str(event.deal_id), event.value
    else:
        kind, key, value = "deal_cancelled", str(event.deal_id), None
    reason = event.reason if isinstance(event, DealCancelled) else ""
    terms_version = event.terms_version if not isinstance(event, DealCancelled) else deal["terms_version"]
    link = f"{settings.base_url}/v1/deals/{event.deal_id}"

    def content(language: str) -> Content:
        facts = [(label(language, "deal"), deal["title"])]
        if value is not None:
            facts.append((label(language, "value"), money(value.amount, value.currency, language)))
        return Content(
            kind=kind,
            fields={"title": deal["title"], "terms_version": terms_version, "reason": reason},
            facts=facts,
            link=(label(language, "view"), link),
        )

    orgs = [o for o in (deal["buyer_org_id"], deal["seller_org_id"], deal["broker_org_id"]) if o is not None]
    return await service.queue(conn, settings, await repo.org_members(conn, orgs), kind, key, content)


async def on_invoices(conn: asyncpg.Connection, settings: Settings, kind: str, invoice_ids: list[UUID]) -> int:
    """Each invoice issued, paid or refunded: one mail to each member of the organization that pays it."""
    queued = 0
    for invoice in await repo.invoices(conn, invoice_ids):
        title = invoice["deal_title"] or ""
        link = f"{settings.base_url}/v1/invoices/{invoice['id']}"

        def content(language: str, invoice: asyncpg.Record = invoice, title: str = title, link: str = link) -> Content:
            amount = money(invoice["amount"], invoice["currency"], language)
            facts = [(label(language, "deal"), title), (label(language, "amount"), amount)]
            if invoice["instalments"] > 1:
                facts.append((label(language, "instalment"), f"{invoice['instalment']}/{invoice['instalments']}"))
            return Content(
                kind=kind, fields={"title": title, "amount": amount}, facts=facts, link=(label(language, "view"), link)
            )

        recipients = await repo.org_members(conn, [invoice["org_id"]])
        queued += await service.queue(conn, settings, recipients, kind, str(invoice["id"]), content)
    return queued


async def on_auction(conn: asyncpg.Connection, settings: Settings, event: AuctionClosed | AuctionCancelled) -> int:
    """The seller's and every bidder's members hear that an auction closed (and who won) or was cancelled."""
    listing = (await repo.listings(conn, [event.offer_id])).get(event.offer_id)
    if listing is None:
        return 0
    kind = "auction_closed" if isinstance(event, AuctionClosed) else "auction_cancelled"
    winner = ""
    if isinstance(event, AuctionClosed) and event.winner_org_id is not None:
        winner = await repo.org_name(conn, event.winner_org_id)
    link = f"{settings.base_url}/v1/auctions/{event.auction_id}"

    def content(language: str) -> Content:
        result = ""
        if isinstance(event, AuctionClosed):
            won = event.outcome == "won" and event.winning_amount is not None
            result = AUCTION_RESULT[language]["won" if won else "unsold"].format(
                winner=winner,
                amount=money(event.winning_amount.amount, event.winning_amount.currency, language)
                if event.winning_amount
                else "",
            )
        return Content(
            kind=kind,
            fields={
                "title": listing.title,
                "bid_count": event.bid_count,
                "result": result,
                "reason": event.reason if isinstance(event, AuctionCancelled) else "",
            },
            facts=service.listing_facts(listing, language),
            link=(label(language, "view"), link),
        )

    orgs = [event.seller_org_id, *await repo.bidder_orgs(conn, event.auction_id)]
    return await service.queue(conn, settings, await repo.org_members(conn, orgs), kind, str(event.auction_id), content)


async def handle(conn: asyncpg.Connection, settings: Settings, row: outbox.OutboxRow) -> int:
    """Queue the mail one event calls for; return how many messages were new."""
    topic = row.topic.removeprefix("mail:")
    if topic in IGNORED:
        return 0
    if topic == "notification.created":
        return await on_notification(conn, settings, outbox.decode(row, Notified).id)
    event = outbox.decode(row, MailEvent)
    match event:
        case InterestExpressed() | InterestAccepted() | InterestDeclined():
            return await on_interest(conn, settings, event)
        case DealTermsProposed() | DealAgreed() | DealCancelled():
            return await on_deal(conn, settings, event)
        case DealInvoiced():
            return await on_invoices(conn, settings, "invoice_issued", event.invoice_ids)
        case InvoicePaid():
            return await on_invoices(conn, settings, "invoice_paid", [event.invoice_id])
        case InvoiceRefunded():
            return await on_invoices(conn, settings, "invoice_refunded", [event.invoice_id])
        case AuctionClosed() | AuctionCancelled():
            return await on_auction(conn, settings, event)
    return 0


def for_settings(settings: Settings) -> list[outbox.Consumer]:
    """The mail consumer of these settings."""

    async def handle_rows(conn: asyncpg.Connection, rows: list[outbox.OutboxRow]) -> None:
        for row in rows:
            await handle(conn, settings, row)

    return [outbox.Consumer("mail", TOPICS, handle_rows, batch_size=10)]


@contextlib.asynccontextmanager
async def consumers(settings: Settings) -> AsyncIterator[list[outbox.Consumer]]:
    """Mail's consumer (registered in exchange.jobs.CONSUMER_SOURCES)."""
    yield for_settings(settings)
