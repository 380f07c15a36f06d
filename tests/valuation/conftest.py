"""Valuation tests run without the background jobs, so a deal stays agreed until the test itself moves it on."""

from tests.parties import settings_without_jobs  # noqa: F401 - overrides the settings fixture here
