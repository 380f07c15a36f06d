"""A property-based run of the OpenAPI document (schemathesis) against the service served by uvicorn on the real stack.

Every operation gets a few generated requests with an operator's key and with a member's, its path naming a real
resource of the kind (an organization, listings, an interest, a deal, an invoice...): none may answer 5xx, and every
answer must match the schema documented for its status. Derandomized (the same cases on every run) and bounded
to a few examples per operation and principal, so the whole run takes well under a minute.
"""

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from exchange.kernel.settings import Settings
from tests.matching.waiting import until
from tests.parties import Parties, accepted_interest, agreed_deal, parties
from tests.support import auction_body, bearer, exchange_serve

# Per operation and principal: valid requests (positive), and requests that break the schema on purpose (negative).
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 4, schemathesis.GenerationMode.NEGATIVE: 2}
REQUEST_TIMEOUT_SECONDS = 30


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`exchange serve` on a loopback port for this test's database, with its jobs; its address and its log."""
    log = tmp_path / "serve.log"
    env: dict[str, str | None] = {
        "STRIPE_WEBHOOK_SECRET": "whsec_" + uuid.uuid4().hex,
        "ALLOW_PRIVATE_WEBHOOKS": "true",
        "LOG_FORMAT": "json",
    }
    with exchange_serve(settings, log, env=env) as base:
        yield base, log


async def _resources(http: httpx.AsyncClient, conn: asyncpg.Connection) -> tuple[Parties, dict[str, str]]:
    """Parties and one real resource of each kind, so requests reach past the 404 of an unknown id: ids by name."""
    p = await parties(http, conn)
    interest = await accepted_interest(http, p)
    deal = await agreed_deal(http, p)
    broker = (await http.get("/v1/me", headers=bearer(p.broker))).json()["member"]["id"]
    spare_key = await http.post("/v1/api-keys", json={"name": "spare"}, headers=bearer(p.seller))
    assert spare_key.status_code == 201, spare_key.text
    subscription = await http.post(
        "/v1/subscriptions", json={"kind": "demands", "query": "nước thải"}, headers=bearer(p.seller)
    )
    assert subscription.status_code == 201, subscription.text
    auction = await http.post("/v1/auctions", json=auction_body(p.offer["id"]), headers=bearer(p.seller))
    assert auction.status_code == 201, auction.text

    async def invoices() -> list[dict]:
        page = await http.get("/v1/invoices", params={"deal_id": deal["id"]}, headers=bearer(p.seller))
        return page.json()["items"]

    # The payments consumer issues the agreed deal's invoices.
    [invoice, *_] = await until(invoices, bool, "the deal's invoices")
    return p, {
        "org_id": p.seller_org["id"],
        "member_id": broker,
        "key_id": spare_key.json()["id"],
        "offer": p.offer["id"],
        "demand": p.demand["id"],
        "subscription_id": subscription.json()["id"],
        "interest_id": interest["id"],
        "deal_id": deal["id"],
        "invoice_id": invoice["id"],
        "auction_id": auction.json()["id"],
    }


def _path_ids(path: str, ids: dict[str, str]) -> dict[str, str]:
    """The real ids for the parameters of a path (a listing is an offer or a demand by the path)."""
    names = re.findall(r"\{(\w+)\}", path)
    listing = ids["offer"] if path.startswith("/v1/offers/") else ids["demand"]
    return {
        name: listing if name == "listing_id" else ids[name] for name in names if name in ids or name == "listing_id"
    }


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    base: str,
    session: requests.Session,
    headers: dict[str, str],
    path_ids: dict[str, str],
) -> None:
    """Send one operation's generated requests with these headers; raise on the first failed check."""

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_ids))
    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, session=session, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance], headers=headers)

    try:
        run()
    except Unsatisfiable:
        # An operation without parameters or body has no request that breaks its schema.
        assert mode is schemathesis.GenerationMode.NEGATIVE


async def test_generated_requests_never_get_a_5xx_nor_an_answer_off_the_schema(served, conn):
    base, log = served
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as http:
        p, ids = await _resources(http, conn)
    # The seller's owner is the member: it owns the offer, the subscription and a party's side of the deal.
    principals = {"operator": bearer(p.operator), "member": bearer(p.seller)}
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    failures: list[str] = []
    # The requests are synchronous: this test's event loop waits, the service runs in its own process.
    with requests.Session() as session:
        for operation in operations:
            path_ids = _path_ids(operation.path, ids)
            for mode in EXAMPLES:
                for who, headers in principals.items():
                    try:
                        _fuzz(operation, mode, base, session, headers, path_ids)
                    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation is tried, all reported
                        failures.append(f"{operation.label} ({mode.value}) as {who}: {exc}")
    assert not failures, "\n\n".join(failures) + "\n\nservice log:\n" + log.read_text()[-5000:]
