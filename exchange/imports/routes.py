"""HTTP routes of imports."""

from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery

from exchange.imports import rows, service
from exchange.imports.schemas import ImportKind, ImportOut
from exchange.kernel.auth import KEYED, Caller, authenticate
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, problems

# A catalogue of 10,000 rows with long descriptions fits; the API's other bodies keep their 1 MiB limit.
MAX_IMPORT_BYTES = 32 * 1024 * 1024


class ImportController(Controller):
    """Bulk import of offers or demands as drafts, and its progress."""

    path = "/v1/imports"
    tags = ["imports"]
    security = BEARER
    guards = KEYED

    @post(
        "/",
        status_code=202,
        request_max_body_size=MAX_IMPORT_BYTES,
        # The app's own check asks every body to be JSON; this one is a file, read and checked by the import itself.
        before_request=authenticate,
        responses=problems(400, 401, 403, 413, 415, 422),
        summary="Import offers or demands",
    )
    async def create_import(
        self,
        request: Request,
        conn: Conn,
        principal: Caller,
        kind: FromQuery[ImportKind],
        dry_run: FromQuery[bool] = False,
    ) -> Response[ImportOut]:
        """A CSV (`text/csv`: a header of API field names, `price.amount` for nested ones, lists split on `;`) or JSON Lines (`application/x-ndjson`: one create body per line) file; 202, then every valid row becomes a draft in the background."""
        fmt = rows.format_of(request.headers.get("content-type"))
        job = await service.start(conn, principal, kind, fmt, dry_run, await request.body())
        return Response(service.to_out(job), status_code=202, headers={"Location": f"/v1/imports/{job.id}"})

    @get("/{import_id:uuid}", responses=problems(400, 401, 404), summary="An import's progress")
    async def get_import(self, conn: Conn, principal: Caller, import_id: FromPath[UUID]) -> ImportOut:
        """Progress and every refused row (row, field, message), for the importing organization's members."""
        return service.to_out(await service.get(conn, principal, import_id))
