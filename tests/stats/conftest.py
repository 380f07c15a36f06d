"""Statistics and change-feed tests run without the background jobs, so only the test itself drains the outbox.

Races are tested through `live` (tests/conftest.py), not `client`, whose requests never overlap.
"""

from tests.parties import settings_without_jobs  # noqa: F401 - overrides the settings fixture here
