"""Prometheus metrics the kernel keeps (database pool, calls to remote services) and the text a scrape gets.

With several worker processes, PROMETHEUS_MULTIPROC_DIR names a directory every process writes its values to, so a
scrape answered by any one of them adds up all of them (`exchange serve --workers N` makes one when it is unset).
"""

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

# The classic text format every Prometheus version reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Gauges of many processes are summed over the live ones: the whole service's pool, not one worker's.
DB_POOL_CONNECTIONS = Gauge(
    "exchange_db_pool_connections", "Connections open in the request pools", multiprocess_mode="livesum"
)
DB_POOL_MAX = Gauge(
    "exchange_db_pool_max_connections", "Most connections the request pools may open", multiprocess_mode="livesum"
)
DB_POOL_IN_USE = Gauge(
    "exchange_db_pool_in_use_connections", "Connections lent to a request right now", multiprocess_mode="livesum"
)
DB_POOL_WAITING = Gauge(
    "exchange_db_pool_waiting_requests", "Requests waiting for a connection right now", multiprocess_mode="livesum"
)
DB_POOL_WAIT = Histogram(
    "exchange_db_pool_wait_seconds",
    "How long a request waited for its database connection",
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_POOL_TIMEOUTS = Counter(
    "exchange_db_pool_timeouts", "Requests answered 503 because no database connection came free in time"
)
# Every request a route answered, by method, route (the path template) and status, as Litestar's Prometheus plugin named
# them; counted by the kernel's middleware, which already times each request for its log line.
HTTP_REQUESTS = Counter("exchange_http_requests", "Total requests", ["method", "path", "status_code", "app_name"])
HTTP_REQUEST_DURATION = Histogram(
    "exchange_http_request_duration_seconds",
    "Request duration, in seconds",
    ["method", "path", "status_code", "app_name"],
)
HTTP_REQUEST_ERRORS = Counter(
    "exchange_http_requests_error", "Total errors in requests", ["method", "path", "status_code", "app_name"]
)
# The route is only known once the router has run, so requests in progress are counted by method.
HTTP_REQUESTS_IN_PROGRESS = Gauge(
    "exchange_http_requests_in_progress",
    "Total requests currently in progress",
    ["method", "app_name"],
    multiprocess_mode="livesum",
)
APP_NAME = "exchange"
# Not counted: the scrape itself, and the docs' files.
_SCRAPE_PATH = "/metrics"
_DOCS_ASSETS = "/schema/assets/"
REMOTE_CALL = Histogram(
    "exchange_remote_call_duration_seconds",
    "Calls to Meilisearch and Stripe (one per HTTP request, retries counted apart), until the answer's headers",
    ["service"],
)
REMOTE_ERRORS = Counter(
    "exchange_remote_call_errors",
    "Calls to Meilisearch and Stripe that got no answer (the error's class) or a 5xx answer (status_5xx)",
    ["service", "error"],
)


_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_in_progress: dict[str, Any] = {}


def requests_in_progress(method: str) -> Any:
    """The in-progress gauge of one method."""
    gauge = _in_progress.get(method)
    if gauge is None:
        gauge = _in_progress[method] = HTTP_REQUESTS_IN_PROGRESS.labels(method, APP_NAME)
    return gauge


def count_request(method: str, route: str | None, path: str, status: int, seconds: float) -> None:
    """Count one answered request under its route (requests no route matched, and the uncounted paths, are not)."""
    if route is None or path == _SCRAPE_PATH or path.startswith(_DOCS_ASSETS):
        return
    key = (method, route, status)
    series = _series.get(key)
    if series is None:
        labels = (method, route, str(status), APP_NAME)
        series = _series[key] = (HTTP_REQUESTS.labels(*labels), HTTP_REQUEST_DURATION.labels(*labels))
    series[0].inc()
    series[1].observe(seconds)
    if status >= 500:
        HTTP_REQUEST_ERRORS.labels(method, route, str(status), APP_NAME).inc()


@contextlib.contextmanager
def timed_call(service: str) -> Iterator[None]:
    """Time one call to a remote service; count it as failed when it raises."""
    start = time.perf_counter()
    try:
        yield
    except Exception as exc:
        REMOTE_ERRORS.labels(service, type(exc).__name__).inc()
        raise
    finally:
        REMOTE_CALL.labels(service).observe(time.perf_counter() - start)


def count_status(service: str, status: int) -> None:
    """Count an answer of a remote service that reports its own failure (5xx)."""
    if status >= 500:
        REMOTE_ERRORS.labels(service, "status_5xx").inc()


class ObservedTransport:
    """An httpx (or httpx2) transport around another: times every call to a remote service, counts the failed ones."""

    def __init__(self, service: str, inner: Any) -> None:
        self.service = service
        self.inner = inner

    async def handle_async_request(self, request: Any) -> Any:
        """Send through the inner transport."""
        with timed_call(self.service):
            response = await self.inner.handle_async_request(request)
        count_status(self.service, response.status_code)
        return response

    async def __aenter__(self) -> "ObservedTransport":
        await self.inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.inner.__aexit__(*exc_info)

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()


def observe_client(client: Any, service: str) -> None:
    """Time every call an httpx-style client makes to a service."""
    # The Meilisearch and Stripe SDKs build their HTTP clients themselves and take no transport.
    client._transport = ObservedTransport(service, client._transport)


class _Collected:
    """Metric families computed before a scrape (from the database), as a collector."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> list[Metric]:
        return self.families


def exposition(families: Iterable[Metric] = ()) -> bytes:
    """The Prometheus text of every process of the service, then the families given."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    scrape = CollectorRegistry()
    scrape.register(_Collected(families))
    return generate_latest(registry) + generate_latest(scrape)


def process_exit() -> None:
    """Drop this process's live gauges from the shared directory (a worker stopping)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())
