"""Auction tests run without the background jobs: a test closes an auction itself (the e2e journey lets the job do it).

Races are tested through `live` (tests/conftest.py), whose requests overlap over a real socket.
"""

from tests.parties import settings_without_jobs  # noqa: F401 - overrides the settings fixture here
