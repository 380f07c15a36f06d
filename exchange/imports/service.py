"""Imports: take a file, then create its rows as drafts chunk by chunk in the background."""

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from exchange.imports import repo, rows
from exchange.imports.repo import ImportRow
from exchange.imports.schemas import ImportOut, RowError
from exchange.kernel import auth, outbox
from exchange.kernel.auth import Principal
from exchange.kernel.errors import DomainError, Forbidden, NotFound
from exchange.kernel.schemas import FieldError
from listings import public as listings

# Rows handled in one transaction: the progress a reader sees moves this many at a time.
CHUNK_ROWS = 100
# A chunk that failed this often ends the import as failed, rather than being retried for ever.
MAX_ATTEMPTS = 5
KINDS = {"offers": "offer", "demands": "demand"}


class ImportChunkDue(outbox.Event, frozen=True, kw_only=True, tag="import.chunk_due"):
    """An import has rows left to handle."""

    import_id: UUID


async def start(
    conn: asyncpg.Connection, principal: Principal | None, kinds: str, fmt: str, dry_run: bool, body: bytes
) -> ImportRow:
    """Queue an import of a file by an editor of an organization that may own this kind of listing."""
    kind = KINDS[kinds]
    principal = listings.require_creator(principal, kind)
    records = rows.records(body, fmt, listings.CREATE_TYPES[kind])
    job = await repo.insert(conn, principal, kind, fmt, dry_run, len(records))
    await repo.insert_records(conn, job.id, records)
    await outbox.emit(conn, job.id, ImportChunkDue(import_id=job.id))
    return job


async def get(conn: asyncpg.Connection, principal: Principal | None, import_id: UUID) -> ImportRow:
    """An import, for the importing organization's members and operators; 404 for anyone else."""
    principal = auth.require(principal)
    job = await repo.get(conn, import_id)
    if job is None or not (principal.is_operator or principal.org_id == job.org_id):
        raise NotFound("no such import")
    return job


async def list_page(
    conn: asyncpg.Connection, principal: Principal | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[ImportRow]:
    """The caller's organization's imports, newest first; operators see every import."""
    principal = auth.require(principal)
    if principal.is_operator:
        return await repo.list_page(conn, None, after, limit)
    if principal.org_id is None:
        raise Forbidden("only members of an organization and operators may list imports")
    return await repo.list_page(conn, principal.org_id, after, limit)


class _Outcome(msgspec.Struct, kw_only=True):
    created: int = 0
    valid: int = 0
    skipped: int = 0
    errors: list[dict] = msgspec.field(default_factory=list)

    def refuse(self, row: int, problems: list[FieldError]) -> None:
        self.errors.extend({"row": row, "field": p.field, "message": p.message} for p in problems)


async def run_chunk(conn: asyncpg.Connection, import_id: UUID, attempts: int) -> None:
    """Handle the next rows of an import in this transaction, and queue the rest."""
    job = await repo.get(conn, import_id, for_update=True)
    if job is None or job.status in ("done", "failed"):
        return
    if attempts >= MAX_ATTEMPTS:
        await repo.fail(conn, import_id, "the import stopped after repeated internal errors; start it again")
        return
    principal = await repo.importer(conn, job)
    if principal is None:
        await repo.fail(conn, import_id, "the importing member, its key or its organization may no longer create")
        return
    records = await repo.records_after(conn, import_id, job.processed, CHUNK_ROWS)
    outcome = await _handle(conn, job, principal, records)
    done = job.processed + len(records) >= job.total or not records
    await repo.record_progress(
        conn,
        import_id,
        processed=len(records),
        created=outcome.created,
        valid=outcome.valid,
        skipped=outcome.skipped,
        errors=outcome.errors,
        done=done,
    )
    if not done:
        await outbox.emit(conn, import_id, ImportChunkDue(import_id=import_id))


async def _handle(
    conn: asyncpg.Connection, job: ImportRow, principal: Principal, records: list[rows.Record]
) -> _Outcome:
    create_type = listings.CREATE_TYPES[job.kind]
    external_ids = [r.external_id for r in records if r.external_id]
    first = await repo.first_rows(conn, job.id, external_ids)
    taken = await listings.external_ids_taken(conn, job.org_id, external_ids)
    outcome = _Outcome()
    for record in records:
        data, problems = rows.body_of(record, job.format, create_type)
        if problems:
            outcome.refuse(record.row, problems)
            continue
        external_id = data.external_id
        if external_id is not None and first.get(external_id, record.row) != record.row:
            message = f"repeats the external_id of row {first[external_id]}"
            outcome.refuse(record.row, [FieldError(field="external_id", message=message)])
            continue
        if external_id in taken:
            outcome.skipped += 1
            continue
        try:
            # A savepoint: a row refused by the database leaves the chunk's other rows in place.
            async with conn.transaction():
                if job.dry_run:
                    listings.check_content(job.kind, data, principal.org_province or "")
                else:
                    await listings.create_draft(conn, principal, job.kind, data)
        except asyncpg.UniqueViolationError:
            outcome.skipped += 1  # the same external id arrived meanwhile through the API
            continue
        except DomainError as exc:
            outcome.refuse(record.row, exc.errors or [FieldError(field="row", message=exc.detail)])
            continue
        outcome.valid += 1
        outcome.created += 0 if job.dry_run else 1
    return outcome


def to_out(job: ImportRow) -> ImportOut:
    """An import as its organization sees it."""
    return ImportOut(
        id=job.id,
        kind=f"{job.kind}s",
        format=job.format,
        dry_run=job.dry_run,
        status=job.status,
        total=job.total,
        processed=job.processed,
        created=job.created,
        valid=job.valid,
        skipped=job.skipped,
        errors=msgspec.convert(job.errors, list[RowError]),
        failure=job.failure,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
