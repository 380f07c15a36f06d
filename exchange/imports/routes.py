"""HTTP routes of imports."""

from dataclasses import dataclass
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, FromQuery

from exchange.imports import rows, service
from exchange.imports.schemas import ImportKind, ImportOut
from exchange.kernel.auth import KEYED, Caller, authenticate
from exchange.kernel.db import Conn
from exchange.kernel.errors import field_error
from exchange.kernel.http import BEARER, Cursor, Limit, decode_cursor, page_of, problems
from exchange.kernel.schemas import Page

# A catalogue of 10,000 rows with long descriptions fits; the API's other bodies keep their 1 MiB limit.
MAX_IMPORT_BYTES = 32 * 1024 * 1024


@dataclass
class ImportOperation(Operation):
    """POST /v1/imports in the OpenAPI document: the route reads its file itself, so its body is described here."""

    def __post_init__(self) -> None:
        text = Schema(type=OpenAPIType.STRING, description="the file, UTF-8")
        form = Schema(
            type=OpenAPIType.OBJECT,
            properties={"file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)},
            required=["file"],
        )
        media = {
            kind: OpenAPIMediaType(schema=text) for kind in ("text/csv", "application/x-ndjson", "application/json")
        }
        media["multipart/form-data"] = OpenAPIMediaType(schema=form)
        self.request_body = RequestBody(content=media, required=True)


async def uploaded_file(request: Request) -> UploadFile:
    """The file of a form upload (`curl -F file=@catalogue.csv`): the part named `file`, else the only file sent."""
    form = await request.form()
    files = [(name, value) for name, value in form.multi_items() if isinstance(value, UploadFile)]
    named = [value for name, value in files if name == "file"]
    if len(named) == 1 or len(files) == 1:
        return named[0] if named else files[0][1]
    raise field_error("file", "a form upload carries one file, in the part named `file`")


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
        operation_class=ImportOperation,
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
        """A CSV (`text/csv`: a header of API field names, `price.amount` for nested ones, lists split on `;`) or JSON Lines (`application/x-ndjson`: one create body per line) file, as the body or a form upload; 202, then every valid row becomes a draft in the background."""
        content_type, filename = request.headers.get("content-type"), None
        if (content_type or "").lower().startswith("multipart/form-data"):
            upload = await uploaded_file(request)
            content_type, filename, body = upload.content_type, upload.filename, await upload.read()
        else:
            body = await request.body()
        fmt = rows.format_of(content_type, body, filename)
        job = await service.start(conn, principal, kind, fmt, dry_run, body)
        return Response(service.to_out(job), status_code=202, headers={"Location": f"/v1/imports/{job.id}"})

    @get("/", responses=problems(400, 401, 403), summary="List imports")
    async def list_imports(
        self, conn: Conn, principal: Caller, limit: Limit = 20, cursor: Cursor = None
    ) -> Page[ImportOut]:
        """The imports of one's organization, newest first, each with its progress and refused rows; operators see
        every import."""
        rows = await service.list_page(conn, principal, decode_cursor(cursor), limit + 1)
        return page_of(rows, limit, service.to_out)

    @get("/{import_id:uuid}", responses=problems(400, 401, 404), summary="An import's progress")
    async def get_import(self, conn: Conn, principal: Caller, import_id: FromPath[UUID]) -> ImportOut:
        """Progress and every refused row (row, field, message), for the importing organization's members."""
        return service.to_out(await service.get(conn, principal, import_id))
