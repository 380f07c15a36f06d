"""What the shell may use of organizations: making operators."""

from exchange.organizations.service import create_operator, ensure_bootstrap_operator

__all__ = ["create_operator", "ensure_bootstrap_operator"]
