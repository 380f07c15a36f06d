"""`exchange reconcile` against the Stripe sandbox, and the live-key refusal."""

import os
import subprocess
import sys

import pytest

from exchange.kernel.settings import SettingsError, settings_from_env
from payments.reconcile import reconcile
from tests.support import bearer

VISA = {"payment_method": "pm_card_visa"}


def run_cli(settings, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Run `exchange ...` as a user would, pointed at this test's database and the sandbox."""
    return subprocess.run(
        [sys.executable, "-m", "exchange.cli", *args],
        env={
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "STRIPE_API_BASE": settings.stripe_api_base,
            "STRIPE_SECRET_KEY": settings.stripe_secret_key,
            "LOG_LEVEL": "WARNING",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _paid_and_refunded_deal(make_deal, client):
    deal = await make_deal()
    await client.post(f"/v1/invoices/{deal.of('buyer')['id']}/pay", json=VISA, headers=bearer(deal.buyer_key))
    await client.post(f"/v1/invoices/{deal.of('seller')['id']}/pay", json=VISA, headers=bearer(deal.seller_key))
    await client.post(f"/v1/invoices/{deal.of('seller')['id']}/refund", headers=bearer(deal.operator))
    declined = await make_deal()
    await client.post(
        f"/v1/invoices/{declined.of('buyer')['id']}/pay",
        json={"payment_method": "pm_card_chargeCustomerFail"},
        headers=bearer(declined.buyer_key),
    )
    await client.post(f"/v1/invoices/{declined.of('seller')['id']}/pay", headers=bearer(declined.seller_key))
    return deal


async def test_reconcile_agrees_then_reports_a_tampered_row(make_deal, client, conn, settings):
    deal = await _paid_and_refunded_deal(make_deal, client)
    agreed = run_cli(settings, "reconcile")
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert "0 disagreement(s)" in agreed.stdout
    buyer = deal.of("buyer")["id"]
    await conn.execute("UPDATE invoices SET amount = amount + 1 WHERE id = $1::uuid", buyer)
    await conn.execute(
        "UPDATE invoices SET status = 'paid', refunded_at = NULL WHERE id = $1::uuid", deal.of("seller")["id"]
    )
    tampered = run_cli(settings, "reconcile")
    assert tampered.returncode == 1, tampered.stdout + tampered.stderr
    lines = tampered.stdout.splitlines()
    assert any(buyer in line and "amount differs" in line for line in lines), lines
    assert any(deal.of("seller")["id"] in line and "refunded" in line for line in lines), lines


async def test_reconcile_finds_an_orphan_intent_by_its_metadata(make_deal, conn, gateway):
    deal = await make_deal()
    invoice = deal.of("buyer")
    # As if a pay call created this intent in Stripe and its transaction then failed.
    orphan = await gateway.create_intent(
        amount=invoice["amount"]["amount"],
        metadata={"invoice_id": invoice["id"]},
        payment_method="pm_card_visa",
        idempotency_key="orphan-test",
    )
    await gateway.confirm_intent(orphan.id, "orphan-test-confirm")
    report = await reconcile(conn, gateway)
    assert [(str(d.invoice_id), d.payment_intent_id) for d in report.disagreements] == [(invoice["id"], orphan.id)]
    assert "took money" in report.disagreements[0].problem


def test_a_live_key_is_refused_at_start(settings):
    with pytest.raises(SettingsError):
        settings_from_env({"STRIPE_SECRET_KEY": "sk_live_abc"})
    with pytest.raises(SettingsError):
        settings_from_env({"STRIPE_SECRET_KEY": "rk_live_abc"})
    served = run_cli(settings, "serve", "--port", "1", STRIPE_SECRET_KEY="sk_live_not_ours")
    assert served.returncode == 2
    assert "live Stripe key" in served.stderr
