"""NDA tests run without the background jobs, so only the test itself drains the outbox."""

from tests.parties import settings_without_jobs  # noqa: F401 - overrides the settings fixture here
