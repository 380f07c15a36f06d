"""HTTP routes of fee schedules, quotes, invoices, payments, refunds and the Stripe webhook."""

from typing import Annotated
from uuid import UUID

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from exchange.kernel.auth import KEYED, Caller
from exchange.kernel.db import Conn, transactions
from exchange.kernel.errors import PROBLEM_MEDIA_TYPE, problem_response
from exchange.kernel.http import (
    BEARER,
    Cursor,
    IdempotencyKey,
    IfMatch,
    Limit,
    RequestId,
    decode_cursor,
    etag,
    once_per_key,
    page_of,
    problems,
)
from exchange.kernel.schemas import Page, Problem
from payments import invoices, paying, refunds, schedules, webhooks
from payments.repo import InvoiceRow
from payments.schemas import InvoiceOut, InvoiceStatus, PayIn, PaymentOut, Quote, ScheduleIn, ScheduleOut, WebhookAck

DECLINED = {
    402: ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        description="The card was declined: the invoice is `failed` and can be paid again",
    )
}
GATEWAY = {
    502: ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        description="Stripe refused or failed; nothing was recorded as paid or refunded",
    ),
    503: ResponseSpec(
        data_container=Problem,
        media_type=PROBLEM_MEDIA_TYPE,
        description="Stripe did not answer in time (or the database is away): retry after Retry-After seconds; nothing"
        " is charged twice",
    ),
}
Amount = Annotated[int | None, QueryParameter(ge=0, le=10**15, description="The deal value in VND")]


def _invoice_response(row: InvoiceRow) -> Response[InvoiceOut]:
    return Response(invoices.invoice_out(row), status_code=200, headers={"ETag": etag(row.version)})


class FeeController(Controller):
    """The fee schedule and quotes."""

    path = "/v1/fees"
    tags = ["fees"]

    @get("/schedule", responses=problems(401), summary="The fee schedule in force")
    async def get_schedule(self, conn: Conn) -> Response[ScheduleOut]:
        """The schedule in force now: marginal tiers on the deal value, minimum and maximum fee, buyer/seller split."""
        row = await schedules.current_schedule(conn)
        return Response(schedules.schedule_out(row), headers={"ETag": etag(row.version)})

    @put(
        "/schedule",
        security=BEARER,
        guards=KEYED,
        responses=problems(400, 401, 403, 412, 422),
        summary="Set a new fee schedule (finance)",
    )
    async def put_schedule(
        self,
        conn: Conn,
        principal: Caller,
        request_id: RequestId,
        data: JSONBody[ScheduleIn],
        if_match: IfMatch = None,
    ) -> Response[ScheduleOut]:
        """A new version effective from now (finance operators and admins); deals keep the version in force when they were agreed."""
        row = await schedules.put_schedule(conn, principal, data, if_match, request_id)
        return Response(schedules.schedule_out(row), status_code=200, headers={"ETag": etag(row.version)})

    @get("/quote", responses=problems(400, 401), summary="Quote the fee of a deal value")
    async def get_quote(self, conn: Conn, amount: Amount = None, currency: FromQuery[str] = "VND") -> Quote:
        """The fee breakdown a deal of this value would pay under the schedule in force."""
        return await schedules.quote(conn, amount, currency)


class InvoiceController(Controller):
    """Fee invoices, their payment and their refund."""

    path = "/v1/invoices"
    tags = ["invoices"]
    security = BEARER
    guards = KEYED

    @get("/", responses=problems(400, 401, 403), summary="List invoices")
    async def list_(
        self,
        conn: Conn,
        principal: Caller,
        deal_id: FromQuery[UUID | None] = None,
        status: FromQuery[InvoiceStatus | None] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> Page[InvoiceOut]:
        """The caller's organization's invoices (every invoice for operators), newest first; filter by deal_id."""
        rows = await invoices.list_invoices(
            conn, principal, deal_id=deal_id, status=status, after=decode_cursor(cursor), limit=limit + 1
        )
        return page_of(rows, limit, invoices.invoice_out)

    @get("/{invoice_id:uuid}", responses=problems(400, 401, 404), summary="One invoice")
    async def get_one(self, conn: Conn, principal: Caller, invoice_id: FromPath[UUID]) -> Response[InvoiceOut]:
        """An invoice, for the invoiced organization's members and operators."""
        return _invoice_response(await invoices.get_invoice(conn, principal, invoice_id))

    @post(
        "/{invoice_id:uuid}/pay",
        status_code=200,
        responses={**problems(400, 401, 403, 404, 409, 422), **DECLINED, **GATEWAY},
        summary="Pay an invoice through Stripe",
    )
    async def pay(
        self,
        state: State,
        principal: Caller,
        invoice_id: FromPath[UUID],
        data: JSONBody[PayIn | None] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PaymentOut]:
        """Create or reuse the invoice's PaymentIntent (editors of the invoiced organization). With `payment_method` the
        server confirms it; without, confirm with `client_secret`. Honours Idempotency-Key."""
        data = data or PayIn()
        deadline = state.settings.stripe_deadline

        # No request-scoped transaction: the connection is borrowed only between Stripe's answers.
        async def answer() -> Response:
            result = await paying.pay(
                transactions(state), state.stripe, principal, invoice_id, data.payment_method, deadline
            )
            invoice = invoices.invoice_out(result.invoice)
            if result.declined is None:
                return Response(paying.payment_out(result, invoice), status_code=200)
            message = result.declined.get("message") or "the card was declined"
            return problem_response(
                402,
                "card-declined",
                "Card declined",
                f"{message}; the invoice can be paid again with another payment method",
                extra={"payment_intent_id": result.intent.id, "decline": result.declined, "invoice": invoice},
            )

        scope = f"POST /v1/invoices/{invoice_id}/pay"
        return await once_per_key(state, principal, scope, idempotency_key, data, answer, within=deadline)

    @post(
        "/{invoice_id:uuid}/refund",
        status_code=200,
        responses={**problems(400, 401, 403, 404, 409), **GATEWAY},
        summary="Refund an invoice in full (finance)",
    )
    async def refund(
        self,
        state: State,
        principal: Caller,
        request_id: RequestId,
        invoice_id: FromPath[UUID],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[InvoiceOut]:
        """Refund a paid invoice in full through Stripe (finance operators and admins); it is `refunded` once Stripe shows the refund. Honours Idempotency-Key."""
        deadline = state.settings.stripe_deadline

        async def answer() -> Response:
            row = await refunds.refund_invoice(
                transactions(state), state.stripe, principal, invoice_id, deadline, request_id
            )
            return _invoice_response(row)

        scope = f"POST /v1/invoices/{invoice_id}/refund"
        return await once_per_key(state, principal, scope, idempotency_key, None, answer, within=deadline)


@post("/v1/webhooks/stripe", tags=["webhooks"], status_code=200, responses=problems(400), summary="Stripe events")
async def stripe_webhook(request: Request, state: State, conn: Conn) -> WebhookAck:
    """Stripe's events: Stripe-Signature verified on the raw body; each event id stored once, then acted on by
    reading its PaymentIntent back from Stripe."""
    event = webhooks.verify(
        await request.body(), request.headers.get("stripe-signature"), state.settings.stripe_webhook_secret
    )
    recorded = await webhooks.record(conn, event)
    return WebhookAck(received=True, duplicate=not recorded)
