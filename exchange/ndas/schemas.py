"""API schemas of offers' NDAs and their acceptances."""

from datetime import datetime
from uuid import UUID

from exchange.kernel.schemas import ApiStruct, InputStruct, Sha256, text


class NdaIn(InputStruct, kw_only=True):
    """An offer's NDA: each change of `text` makes a new version; changing only `required` does not."""

    text: text(1, 100000)
    required: bool
    """Whether accepting an interest on the offer reveals its confidential details only to those who accepted."""


class NdaOut(ApiStruct, kw_only=True):
    """An offer's NDA at its current version. Its ETag is `revision` (every change), not `version` (the text's)."""

    offer_id: UUID
    version: int
    """The text's version: 1, 2, ... one more at each change of text."""
    text: str
    sha256: str
    """The hex SHA-256 of `text` in UTF-8: send it back with `version` to accept."""
    required: bool
    revision: int
    """Bumped by every change (text or `required`): what the ETag and If-Match name."""
    created_at: datetime
    updated_at: datetime


class AcceptIn(InputStruct, kw_only=True):
    """The version accepted and the hash of its text, as shown."""

    version: int
    sha256: Sha256


class AcceptanceOut(ApiStruct, kw_only=True):
    """One organization's acceptance of one version of an offer's NDA, by one of its members."""

    id: UUID
    offer_id: UUID
    org_id: UUID
    member_id: UUID
    version: int
    sha256: str
    accepted_at: datetime
