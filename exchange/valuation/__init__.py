"""Valuation help: what comparable deals were agreed for, as percentiles no query can trace to one deal."""
