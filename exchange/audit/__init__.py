"""The audit trail as admins read it (exchange.kernel.audit writes it)."""
