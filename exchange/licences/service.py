"""Rules for express licences: who may take one, on which terms, and the agreed deal it opens."""

from uuid import UUID

import asyncpg

from exchange.deals import public as deals
from exchange.kernel import auth
from exchange.kernel.auth import Principal
from exchange.kernel.errors import Forbidden, NotFound, field_conflict
from exchange.licences.schemas import LicenceIn
from exchange.ndas import public as ndas
from listings import public as listings

TITLE_MAX = 200


async def take(conn: asyncpg.Connection, principal: Principal | None, offer_id: UUID, data: LicenceIn) -> deals.DealRow:
    """An editor of a verified organization not owning a published offer takes its express licence on exactly the
    terms it serves: a deal already agreed (buyer the caller's organization, seller the owner), fees invoiced."""
    principal = auth.require(principal)
    org_id = principal.org_id
    if org_id is None:
        raise Forbidden("licences are taken by organizations; operators belong to none")
    offer = await listings.locked(conn, "offer", offer_id)
    # An offer never published is nobody's business but its owner's; one that was is known to have left publication.
    if offer is None or (offer.published_at is None and offer.owner_org_id != org_id):
        raise NotFound("no such offer")
    if offer.owner_org_id == org_id:
        raise Forbidden("an organization cannot take a licence of its own offer")
    auth.require_member_of(principal, org_id, "editor")
    if principal.org_status != "verified":
        raise Forbidden("only verified organizations may take a licence; ask the operators to verify yours")
    if not listings.is_public(offer):
        raise field_conflict("offer", "the offer is not published")
    served = listings.licence_terms(offer)
    if served is None:
        raise field_conflict("licence_terms", "the offer has no express licence terms")
    terms, sha256 = served
    if data.terms_sha256.lower() != sha256:
        raise field_conflict("terms_sha256", "the offer's licence terms changed: read the offer again")
    await ndas.require_accepted(conn, offer_id, org_id)
    return await deals.open_agreed(
        conn,
        origin="express_licence",
        offer_id=offer_id,
        buyer_org_id=org_id,
        seller_org_id=offer.owner_org_id,
        title=f"Express licence: {offer.title}"[:TITLE_MAX],
        value=terms.value,
        transfer_mode=terms.transfer_mode,
        summary=terms.summary,
        created_by=principal.member_id,
        details={"terms_sha256": sha256, "term_months": terms.term_months, "exclusive": terms.exclusive},
    )
