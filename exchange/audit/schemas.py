"""API schemas of the audit trail."""

from datetime import datetime
from uuid import UUID

from exchange.kernel.schemas import ApiStruct


class AuditEntryOut(ApiStruct, kw_only=True):
    """One entry: who did what, to which subject, why, when and in which request."""

    id: UUID
    created_at: datetime
    actor_id: UUID | None
    """The member (an operator, or an organization's member for its keys) who acted; null for a registration or the
    command line."""
    actor_role: str | None
    """The actor's operator role (admin, reviewer, finance), or its member role."""
    action: str
    """verify, reject, approve, suspend, reinstate, refund, fee_schedule, cancel, operator_create, operator_role,
    operator_delete, partner_create, partner_delete, key_create or key_revoke."""
    subject_type: str
    """organization, offer, demand, invoice, fee_schedule, deal, member or api_key."""
    subject_id: str
    """The subject's id (a fee schedule's is its version number)."""
    reason: str | None
    request_id: str | None
    """The X-Request-ID of the request that acted; null from the command line."""
