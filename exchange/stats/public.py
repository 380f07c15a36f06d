"""What other domains may use of the statistics: the snapshot of GET /v1/stats and its type."""

from exchange.stats import service
from exchange.stats.schemas import StatsOut

Stats = StatsOut
"""Every aggregate of the exchange at one moment (the body of GET /v1/stats)."""

stats = service.stats
"""Read every aggregate from one consistent snapshot of the database."""
