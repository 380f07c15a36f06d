"""Deals tests run without the background jobs, so only the test itself drains the outbox.

Races are tested through `live` (tests/conftest.py), not `client`, whose requests never overlap.
"""

import msgspec
import pytest

from exchange.kernel.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The session's settings with the in-process jobs off."""
    return msgspec.structs.replace(settings, run_jobs=False)
