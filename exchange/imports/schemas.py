"""API schemas of imports."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from exchange.kernel.schemas import ApiStruct

ImportKind = Literal["offers", "demands"]
ImportStatus = Literal["queued", "running", "done", "failed"]


class RowError(ApiStruct, kw_only=True):
    """Why one row created nothing: its number, the field and the message a 422 of the API would give."""

    row: int
    field: str
    message: str


class ImportOut(ApiStruct, kw_only=True):
    """An import and how far it has got."""

    id: UUID
    kind: ImportKind
    format: Literal["csv", "jsonl"]
    dry_run: bool
    status: ImportStatus
    total: int
    processed: int
    created: int
    valid: int
    skipped: int
    errors: list[RowError]
    failure: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
