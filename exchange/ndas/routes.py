"""HTTP routes of offers' NDAs."""

from uuid import UUID

from litestar import Controller, Response, get, post, put
from litestar.params import FromPath, JSONBody

from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, Cursor, IfMatch, Limit, decode_cursor, etag, page_of, problems
from exchange.kernel.schemas import Page
from exchange.ndas import service
from exchange.ndas.schemas import AcceptanceOut, AcceptIn, NdaIn, NdaOut


def _respond(row: service.NdaRow, status_code: int = 200) -> Response[NdaOut]:
    return Response(service.to_out(row), status_code=status_code, headers={"ETag": etag(row.revision)})


class NdaController(Controller):
    """An offer's confidentiality agreement: set it, read it, accept it, and see who accepted."""

    path = "/v1/offers/{offer_id:uuid}/nda"
    tags = ["ndas"]
    security = BEARER
    guards = KEYED

    @put("/", responses=problems(400, 401, 403, 404, 412, 413, 422), summary="Set the offer's NDA")
    async def put_nda(
        self, conn: Conn, principal: Caller, offer_id: FromPath[UUID], data: JSONBody[NdaIn], if_match: IfMatch = None
    ) -> Response[NdaOut]:
        """Editors of the offer's owner set its NDA (201 the first time); each change of text makes a new version. If-Match names the revision."""
        row, created = await service.put(conn, principal, offer_id, data, if_match)
        return _respond(row, 201 if created else 200)

    @get("/", responses=problems(400, 401, 403, 404), summary="The offer's NDA")
    async def get_nda(self, conn: Conn, principal: Caller, offer_id: FromPath[UUID]) -> Response[NdaOut]:
        """The NDA's current version, for members of verified organizations, the owner's members and operators."""
        return _respond(await service.get(conn, principal, offer_id))

    @post("/accept", responses=problems(400, 401, 403, 404, 409, 413, 422), summary="Accept the offer's NDA")
    async def accept(
        self, conn: Conn, principal: Caller, offer_id: FromPath[UUID], data: JSONBody[AcceptIn]
    ) -> Response[AcceptanceOut]:
        """Editors of a verified organization not owning the offer accept its current version (201); the same version again returns the first acceptance (200); a stale version or wrong hash is 409."""
        row, created = await service.accept(conn, principal, offer_id, data)
        return Response(service.acceptance_out(row), status_code=201 if created else 200)

    @get("/acceptances", responses=problems(400, 401, 403, 404), summary="Who accepted the offer's NDA")
    async def acceptances(
        self, conn: Conn, principal: Caller, offer_id: FromPath[UUID], limit: Limit = 20, cursor: Cursor = None
    ) -> Page[AcceptanceOut]:
        """Which organization accepted which version, by whom and when, newest first: the owner's members and operators only."""
        rows = await service.acceptances(conn, principal, offer_id, decode_cursor(cursor), limit + 1)
        return page_of(rows, limit, service.acceptance_out, "accepted_at")
