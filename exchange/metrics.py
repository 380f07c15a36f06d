"""GET /metrics for operators: Prometheus text of every worker process, and what the database says at scrape time."""

from litestar import Response, get
from prometheus_client.core import GaugeMetricFamily

from exchange.kernel import metrics, outbox
from exchange.kernel.auth import KEYED, Caller, require_operator
from exchange.kernel.db import Conn
from exchange.kernel.http import BEARER, problems


def outbox_families(backlog: list[outbox.TopicBacklog]) -> list[GaugeMetricFamily]:
    """The outbox backlog per topic, read at scrape time: right however many processes (or machines) drain it."""
    waiting = GaugeMetricFamily("exchange_outbox_waiting_events", "Events waiting for their consumer", labels=["topic"])
    failing = GaugeMetricFamily(
        "exchange_outbox_failing_events", "Waiting events whose consumer failed on them before", labels=["topic"]
    )
    oldest = GaugeMetricFamily(
        "exchange_outbox_oldest_waiting_seconds", "Age of the oldest event waiting", labels=["topic"]
    )
    for row in backlog:
        waiting.add_metric([row.topic], row.waiting)
        failing.add_metric([row.topic], row.failing)
        oldest.add_metric([row.topic], row.oldest_seconds)
    return [waiting, failing, oldest]


@get(
    "/metrics",
    tags=["operations"],
    summary="Metrics",
    guards=KEYED,
    security=BEARER,
    media_type=metrics.CONTENT_TYPE,
    responses=problems(401, 403),
)
async def get_metrics(principal: Caller, conn: Conn) -> Response[bytes]:
    """Prometheus text (operators only): requests, database pool, outbox backlog, Meilisearch and Stripe calls, notifications."""
    require_operator(principal)
    families = outbox_families(await outbox.backlog_by_topic(conn))
    return Response(metrics.exposition(families), media_type=metrics.CONTENT_TYPE)
