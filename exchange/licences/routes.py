"""HTTP routes of express licences."""

from uuid import UUID

from litestar import Response, post
from litestar.params import FromPath, JSONBody

from exchange.deals import public as deals
from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, IdempotencyKey, etag, problems, remember_idempotent, replay_idempotent
from exchange.licences import service
from exchange.licences.schemas import LicenceIn


@post(
    "/v1/offers/{offer_id:uuid}/licence",
    tags=["licences"],
    security=BEARER,
    guards=KEYED,
    responses=problems(400, 401, 403, 404, 409, 413, 422),
    summary="Take the offer's express licence",
)
async def take_licence(
    conn: Conn,
    principal: Caller,
    offer_id: FromPath[UUID],
    data: JSONBody[LicenceIn],
    idempotency_key: IdempotencyKey = None,
) -> Response[deals.DealOut]:
    """Editors of a verified organization not owning the offer take its express licence on the terms shown (their licence_terms_sha256): 201 a deal already agreed, its fee invoices issued as for any agreed deal; 409 when the terms changed, the offer is not published or has no terms, or its required NDA is not accepted. Honours Idempotency-Key."""
    scope = f"POST /v1/offers/{offer_id}/licence"
    if replay := await replay_idempotent(conn, principal, scope, idempotency_key, data):
        return replay
    deal = await service.take(conn, principal, offer_id, data)
    response = Response(deals.to_out(deal), status_code=201, headers={"ETag": etag(deal.version)})
    return await remember_idempotent(conn, principal, scope, idempotency_key, response)
