"""Licence tests run without the background jobs: the test drains payments' consumers itself to see the invoices."""

from tests.parties import settings_without_jobs  # noqa: F401 - overrides the settings fixture here
from tests.payments.conftest import gateway, pool  # noqa: F401 - the fixtures payments' consumers need
