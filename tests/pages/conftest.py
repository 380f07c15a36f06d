"""Page tests run without the background jobs, so a figure on a page and the same figure read after it agree."""

from tests.parties import settings_without_jobs  # noqa: F401 - overrides the settings fixture here
