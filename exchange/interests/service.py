"""Rules for interests: who may express, see, accept and decline them, and what accepting reveals."""

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from exchange.interests import repo
from exchange.interests.repo import InterestRow
from exchange.interests.schemas import InterestCreate, InterestOut, PartyDisclosure, Revealed
from exchange.kernel import auth, outbox
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Conflict, Forbidden, InvalidTransition, NotFound, field_error
from exchange.kernel.events import InterestAccepted, InterestDeclined, InterestExpressed
from exchange.kernel.http import check_if_match
from exchange.ndas import public as ndas

OTHER_KIND = {"offer": "demand", "demand": "offer"}
DECISIONS = {"accept": "accepted", "decline": "declined"}


def _org_member(principal: Principal) -> UUID:
    if principal.org_id is None:
        raise Forbidden("only members of an organization may do this; operators and partners belong to none")
    return principal.org_id


async def express(
    conn: asyncpg.Connection, principal: Principal | None, kind: str, target_id: UUID, data: InterestCreate
) -> InterestRow:
    """An editor of a verified organization asks the owner of a published listing to connect."""
    principal = auth.require(principal)
    org_id = _org_member(principal)
    target = await repo.listing_brief(conn, target_id)
    if target is None or target.kind != kind or (not target.public and target.owner_org_id != org_id):
        raise NotFound(f"no such {kind}")
    if target.owner_org_id == org_id:
        raise Forbidden(f"an organization cannot express interest in its own {kind}")
    auth.require_member_of(principal, org_id, "editor")
    if principal.org_status != "verified":
        raise Forbidden("only verified organizations may express interest; ask the operators to verify yours")
    offer_id, demand_id = (target_id, None) if kind == "offer" else (None, target_id)
    if data.listing_id is not None:
        own = await repo.listing_brief(conn, data.listing_id)
        if own is None or own.owner_org_id != org_id:
            raise field_error("listing_id", "must be one of your organization's own listings")
        if own.kind != OTHER_KIND[kind]:
            raise field_error("listing_id", f"must be a {OTHER_KIND[kind]} when answering a {kind}")
        offer_id, demand_id = (target_id, own.id) if kind == "offer" else (own.id, target_id)
    pending = await repo.find_pending(conn, target_id, org_id)
    if pending is None:
        row = await repo.insert(
            conn,
            {
                "target_id": target_id,
                "target_kind": kind,
                "to_org_id": target.owner_org_id,
                "from_org_id": org_id,
                "from_member_id": principal.member_id,
                "listing_id": data.listing_id,
                "offer_id": offer_id,
                "demand_id": demand_id,
                "message": data.message,
            },
        )
        if row is not None:
            await outbox.emit(conn, row.id, InterestExpressed(**_event_fields(row)))
            return row
        pending = await repo.find_pending(conn, target_id, org_id)
    raise Conflict(f"your organization already has a pending interest in this {kind} (interest {pending})")


def _event_fields(row: InterestRow) -> dict[str, object]:
    return {
        "interest_id": row.id,
        "target_id": row.target_id,
        "target_kind": row.target_kind,
        "from_org_id": row.from_org_id,
        "to_org_id": row.to_org_id,
    }


def _visible(principal: Principal, row: InterestRow) -> bool:
    return principal.is_operator or principal.org_id in (row.from_org_id, row.to_org_id)


async def get(conn: asyncpg.Connection, principal: Principal | None, interest_id: UUID) -> InterestRow:
    """An interest, for its two parties and operators."""
    principal = auth.require(principal)
    row = await repo.get(conn, interest_id)
    if row is None or not _visible(principal, row):
        raise NotFound("no such interest")
    return row


async def decide(
    conn: asyncpg.Connection, principal: Principal | None, interest_id: UUID, action: str, if_match: str | None
) -> InterestRow:
    """The listing owner accepts or declines a pending interest; accepting discloses each side's listing to the other."""
    principal = auth.require(principal)
    row = await repo.get(conn, interest_id, for_update=True)
    if row is None or not _visible(principal, row):
        raise NotFound("no such interest")
    if not principal.is_member_of(row.to_org_id, "editor"):
        raise Forbidden(f"only editors of the listing's owner may {action} an interest")
    check_if_match(if_match, row.version)
    if row.status != "pending":
        raise InvalidTransition(f"the interest is {row.status}; only a pending interest can be {DECISIONS[action]}")
    if action == "accept":
        # Each side's listing is disclosed to the other: an offer whose NDA is required only to those who accepted it.
        await ndas.require_accepted(conn, row.target_id, row.from_org_id)
        if row.listing_id is not None:
            await ndas.require_accepted(conn, row.listing_id, row.to_org_id)
    decided = await repo.decide(conn, interest_id, DECISIONS[action], principal.member_id)
    decision = InterestAccepted if decided.status == "accepted" else InterestDeclined
    await outbox.emit(conn, decided.id, decision(**_event_fields(decided)))
    if decided.status == "accepted":
        await repo.disclose_accepted(
            conn, decided.id, decided.target_id, decided.from_org_id, decided.listing_id, decided.to_org_id
        )
    return decided


async def list_page(
    conn: asyncpg.Connection,
    principal: Principal | None,
    box: str,
    status: str | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[InterestRow]:
    """The interests the caller's organization received or sent."""
    principal = auth.require(principal)
    org_id = _org_member(principal)
    return await repo.list_page(conn, org_id, box, status, after, limit)


async def to_out(conn: asyncpg.Connection, row: InterestRow, viewer: Principal) -> InterestOut:
    """An interest as this viewer may see it: only its two parties see what accepting revealed."""
    fields = msgspec.structs.asdict(row)
    fields.pop("decided_by")
    out = InterestOut(**fields)
    if viewer.org_id in (row.from_org_id, row.to_org_id):
        out.revealed = None
        if row.status == "accepted":
            sender = await repo.disclosure(conn, row.from_org_id, row.listing_id)
            recipient = await repo.disclosure(conn, row.to_org_id, row.target_id)
            out.revealed = Revealed(
                sender=msgspec.convert(msgspec.structs.asdict(sender), PartyDisclosure),
                recipient=msgspec.convert(msgspec.structs.asdict(recipient), PartyDisclosure),
            )
    return out
