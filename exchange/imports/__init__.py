"""Bulk import of offers or demands from a CSV or JSON Lines file."""
