"""Confidentiality agreements (NDAs) on offers: versions, acceptances, and whether one is still needed."""
