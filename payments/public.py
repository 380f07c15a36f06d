"""What the shell may use of payments: the Stripe gateway request handlers share, reconciliation and the read-back."""

from payments.gateway import open_gateway
from payments.readback import read_back
from payments.reconcile import main as reconcile

__all__ = ["open_gateway", "read_back", "reconcile"]
