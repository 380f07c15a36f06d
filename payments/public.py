"""What the shell may use of payments: the Stripe gateway request handlers share, and reconciliation."""

from payments.gateway import open_gateway
from payments.reconcile import main as reconcile

__all__ = ["open_gateway", "reconcile"]
