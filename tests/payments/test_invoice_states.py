"""How a PaymentIntent's status moves an invoice: forward only once paid."""

import pytest

from payments.invoices import status_from_intent

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("current", "intent", "failed", "expected"),
    [
        ("open", "requires_payment_method", False, "open"),
        ("open", "requires_confirmation", False, "open"),
        ("open", "requires_action", False, "processing"),
        ("open", "processing", False, "processing"),
        ("open", "succeeded", False, "paid"),
        ("open", "requires_payment_method", True, "failed"),
        ("processing", "succeeded", False, "paid"),
        ("processing", "requires_payment_method", True, "failed"),  # 3-D Secure refused
        ("failed", "requires_payment_method", False, "open"),  # a fresh attempt awaiting the payer
        ("failed", "succeeded", False, "paid"),
        ("failed", "canceled", True, "failed"),
    ],
)
def test_intent_status_moves_an_unpaid_invoice(current, intent, failed, expected):
    assert status_from_intent(current, intent, failed) == expected


@pytest.mark.parametrize("current", ["paid", "refunded", "void"])
@pytest.mark.parametrize(
    "intent", ["requires_payment_method", "requires_action", "processing", "canceled", "succeeded"]
)
def test_paid_refunded_and_void_never_move_back(current, intent):
    assert status_from_intent(current, intent, True) == current
