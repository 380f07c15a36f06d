"""Rules for offers' NDAs: who may set, read and accept them, and when one still stands between a party and secrets."""

import hashlib
from datetime import datetime
from uuid import UUID

import asyncpg

from exchange.kernel import auth, outbox
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Forbidden, NotFound, field_conflict
from exchange.kernel.events import NdaAccepted
from exchange.kernel.http import check_if_match
from exchange.ndas import repo
from exchange.ndas.repo import AcceptanceRow, NdaRow
from exchange.ndas.schemas import AcceptanceOut, AcceptIn, NdaIn, NdaOut
from listings import public as listings


def sha256_of(text: str) -> str:
    """The hex SHA-256 of a text in UTF-8."""
    return hashlib.sha256(text.encode()).hexdigest()


def to_out(row: NdaRow) -> NdaOut:
    """An NDA as served."""
    return NdaOut(
        offer_id=row.offer_id,
        version=row.version,
        text=row.text,
        sha256=row.sha256,
        required=row.required,
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def acceptance_out(row: AcceptanceRow) -> AcceptanceOut:
    """An acceptance as served."""
    return AcceptanceOut(
        id=row.id,
        offer_id=row.offer_id,
        org_id=row.org_id,
        member_id=row.member_id,
        version=row.version,
        sha256=row.sha256,
        accepted_at=row.accepted_at,
    )


async def _offer(conn: asyncpg.Connection, principal: Principal | None, offer_id: UUID) -> listings.Listing:
    """The offer, if the caller may see it (404 otherwise)."""
    return await listings.visible(conn, auth.require(principal), "offer", offer_id)


async def put(
    conn: asyncpg.Connection, principal: Principal | None, offer_id: UUID, data: NdaIn, if_match: str | None
) -> tuple[NdaRow, bool]:
    """An editor of the owner sets the offer's NDA; a new text is a new version. Returns the NDA and whether it is new."""
    offer = await _offer(conn, principal, offer_id)
    principal = auth.require_member_of(principal, offer.owner_org_id, "editor")
    current = await repo.get(conn, offer_id, for_update=True)
    sha256 = sha256_of(data.text)
    if current is None:
        check_if_match(if_match, 0)
        if await repo.insert(conn, offer_id, data.text, sha256, data.required, principal.member_id):
            created = await repo.get(conn, offer_id)
            assert created is not None
            return created, True
        # Another request created it meanwhile: this one is a change of it.
        current = await repo.get(conn, offer_id, for_update=True)
        assert current is not None
    check_if_match(if_match, current.revision)
    version = current.version
    if sha256 != current.sha256:
        version += 1
        await repo.insert_version(conn, offer_id, version, data.text, sha256, principal.member_id)
    if version == current.version and data.required == current.required:
        return current, False
    await repo.update(conn, offer_id, version, data.required, principal.member_id)
    changed = await repo.get(conn, offer_id)
    assert changed is not None
    return changed, False


async def get(conn: asyncpg.Connection, principal: Principal | None, offer_id: UUID) -> NdaRow:
    """An offer's NDA, for members of verified organizations, the owner's members and operators."""
    offer = await _offer(conn, principal, offer_id)
    principal = auth.require(principal)
    own = principal.org_id == offer.owner_org_id
    if not (principal.is_operator or own):
        if principal.org_id is None or principal.org_status != "verified":
            raise Forbidden("only members of verified organizations may read an offer's NDA")
    nda = await repo.get(conn, offer_id)
    if nda is None:
        raise NotFound("this offer has no NDA")
    return nda


async def accept(
    conn: asyncpg.Connection, principal: Principal | None, offer_id: UUID, data: AcceptIn
) -> tuple[AcceptanceRow, bool]:
    """An editor of a verified organization not owning the offer accepts the NDA's current version, named by its
    version and hash. Returns the acceptance and whether it is new (the same version again returns the first)."""
    offer = await _offer(conn, principal, offer_id)
    principal = auth.require(principal)
    org_id = principal.org_id
    if org_id is None:
        raise Forbidden("NDAs are accepted by organizations; operators belong to none")
    if org_id == offer.owner_org_id:
        raise Forbidden("an organization does not accept its own offer's NDA")
    auth.require_member_of(principal, org_id, "editor")
    if principal.org_status != "verified":
        raise Forbidden("only verified organizations may accept an NDA; ask the operators to verify yours")
    nda = await repo.get(conn, offer_id, for_update=True)
    if nda is None:
        raise NotFound("this offer has no NDA")
    if data.version != nda.version:
        raise field_conflict("version", f"the NDA's current version is {nda.version}; read it again before accepting")
    if data.sha256.lower() != nda.sha256:
        raise field_conflict("sha256", "is not the SHA-256 of the current version's text")
    row = await repo.insert_acceptance(conn, offer_id, nda.version, org_id, principal.member_id, nda.sha256)
    if row is None:
        first = await repo.acceptance(conn, offer_id, org_id, nda.version)
        assert first is not None
        return first, False
    await outbox.emit(
        conn,
        row.id,
        NdaAccepted(
            acceptance_id=row.id,
            offer_id=offer_id,
            offer_owner_org_id=offer.owner_org_id,
            org_id=org_id,
            member_id=row.member_id,
            version=row.version,
            sha256=row.sha256,
            accepted_at=row.accepted_at,
        ),
    )
    return row, True


async def acceptances(
    conn: asyncpg.Connection,
    principal: Principal | None,
    offer_id: UUID,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[AcceptanceRow]:
    """Who accepted which version of an offer's NDA, newest first: for the owner's members and operators only."""
    offer = await _offer(conn, principal, offer_id)
    principal = auth.require(principal)
    if not (principal.is_operator or principal.is_member_of(offer.owner_org_id)):
        raise Forbidden("only the offer's owner and operators see who accepted its NDA")
    return await repo.acceptances_page(conn, offer_id, after, limit)


async def require_accepted(conn: asyncpg.Connection, offer_id: UUID, org_id: UUID) -> None:
    """409 naming `nda` when the offer's NDA is required and the organization has not accepted its current version."""
    nda = await repo.get(conn, offer_id)
    if nda is None or not nda.required or await repo.acceptance(conn, offer_id, org_id, nda.version):
        return
    raise field_conflict(
        "nda",
        f"offer {offer_id} requires its NDA: the organization {org_id} has not accepted its current version"
        f" ({nda.version}) yet",
    )
