"""HTTP benchmark: the running exchange service beside a bare Litestar + msgspec app, with concurrent keep-alive clients."""

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec

from exchange.dev import processes
from exchange.dev import stack as devstack
from exchange.kernel import outbox
from tests.support import bearer, offer_body

REPO = Path(__file__).resolve().parent.parent
WARMUP_SECONDS = 1.0
REQUEST_TIMEOUT = 30.0
SETUP_OFFERS = 50
PACKAGES = ("litestar", "msgspec", "uvicorn", "uvloop", "httptools", "asyncpg")
HEADER = ("endpoint", "conc", "p50 ms", "p99 ms", "req/s", "errors", "bare p50", "bare p99", "bare req/s", "ratio")
WIDTHS = (19, 4, 7, 7, 8, 6, 8, 8, 10, 5)

RequestSource = Callable[[], bytes]


@dataclass
class Phase:
    """One timed stretch of requests: when it ends and what it recorded."""

    deadline: float
    budget: int | None
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)


@dataclass
class Figures:
    """The outcome of one (target, concurrency) run."""

    p50_ms: float
    p99_ms: float
    rps: float
    count: int
    errors: int
    kinds: Counter
    samples: dict[str, str]
    cpu: dict[str, float]


@dataclass
class Row:
    """One line of the result table: the service and its bare counterpart at one concurrency."""

    endpoint: str
    bare_path: str
    concurrency: int
    service: Figures
    bare: Figures


@dataclass
class Fixture:
    """What setup created on the service: published offer ids, an institute key, captured bodies."""

    offer_ids: list[str]
    owner_key: str
    offer_body: dict
    one_body: bytes
    page_body: bytes


class Connection:
    """One keep-alive HTTP/1.1 connection, reopened after the server closes it or an error."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        """Connect."""
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        """Drop the connection; the next request opens a new one."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def exchange(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request and read its whole response: (status, body)."""
        if self.writer is None:
            await self.open()
        self.writer.write(raw)
        status, body, close = await read_response(self.reader)
        if close:
            self.close()
        return status, body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read a response head and body (Content-Length, chunked, or until close): (status, body, closed)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = None
    chunked = False
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif name == "connection":
            close = "close" in value.lower()
    if chunked:
        return status, await read_chunked(reader), close
    if length is not None:
        return status, await reader.readexactly(length), close
    return status, await reader.read(), True


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """Read a chunked body up to and including its last chunk and trailers."""
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def note_error(phase: Phase, kind: str, detail: str) -> None:
    """Count an error and keep the first detail of each kind."""
    phase.errors[kind] += 1
    phase.samples.setdefault(kind, detail)


async def worker(conn: Connection, next_request: RequestSource, phase: Phase) -> None:
    """Send requests back to back on one connection until the phase's deadline or budget runs out."""
    while time.perf_counter() < phase.deadline:
        if phase.budget is not None:
            if phase.budget <= 0:
                return
            phase.budget -= 1
        raw = next_request()
        start = time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                status, body = await conn.exchange(raw)
        except (
            OSError,
            TimeoutError,
            EOFError,
            ValueError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ) as exc:
            conn.close()
            note_error(phase, f"transport {type(exc).__name__}", str(exc)[:300])
            await asyncio.sleep(0.01)
            continue
        phase.latencies.append(time.perf_counter() - start)
        if not 200 <= status < 300:
            note_error(phase, f"HTTP {status}", body[:300].decode("utf-8", "replace"))


def percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of a sorted list (0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def proc_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process and its live children (uvicorn workers) have used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return own + sum(proc_cpu_seconds(int(kid)) for kid in kids)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle so far (Linux /proc)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server_pid: int | None) -> tuple[float, float, float] | None:
    """CPU seconds so far of this process, of the server process and of the whole machine; None off Linux."""
    try:
        server = proc_cpu_seconds(server_pid) if server_pid else math.nan
        return time.process_time(), server, machine_busy_seconds()
    except (OSError, ValueError, IndexError):
        return None


def cpu_use(before: tuple | None, after: tuple | None, elapsed: float) -> dict[str, float]:
    """Per cent of one core used by the load generator, the server and everything else between two snapshots."""
    if before is None or after is None or elapsed <= 0:
        return {}
    client, server, busy = (100 * (a - b) / elapsed for a, b in zip(after, before, strict=False))
    rest = math.nan if math.isnan(server) else max(0.0, busy - client - server)
    return {"client": client, "server": server, "rest": rest, "total": busy}


async def drive(
    host: str,
    port: int,
    next_request: RequestSource,
    concurrency: int,
    duration: float,
    requests: int | None,
    server_pid: int | None,
) -> Figures:
    """Connect and warm up for WARMUP_SECONDS, then measure for duration seconds (or exactly `requests` requests)."""
    conns = [Connection(host, port) for _ in range(concurrency)]
    try:
        warm = Phase(deadline=time.perf_counter() + WARMUP_SECONDS, budget=None)
        await asyncio.gather(*(worker(c, next_request, warm) for c in conns))
        before = cpu_snapshot(server_pid)
        start = time.perf_counter()
        deadline = math.inf if requests else start + duration
        measure = Phase(deadline=deadline, budget=requests)
        await asyncio.gather(*(worker(c, next_request, measure) for c in conns))
        elapsed = time.perf_counter() - start
        after = cpu_snapshot(server_pid)
    finally:
        for c in conns:
            c.close()
    ordered = sorted(measure.latencies)
    return Figures(
        p50_ms=percentile(ordered, 0.50) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        rps=len(ordered) / elapsed if elapsed > 0 else 0.0,
        count=len(ordered),
        errors=sum(measure.errors.values()),
        kinds=measure.errors,
        samples=measure.samples,
        cpu=cpu_use(before, after, elapsed),
    )


def get_request(host: str, path: str, accept: str = "application/json") -> bytes:
    """The bytes of a GET."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: {accept}\r\n\r\n".encode()


def post_request(host: str, path: str, key: str, body: bytes) -> bytes:
    """The bytes of a JSON POST with a bearer key."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def cycle_source(requests: list[bytes]) -> RequestSource:
    """A source that hands out the given requests round-robin."""
    return itertools.cycle(requests).__next__


def post_offer_source(host: str, key: str, body: dict) -> RequestSource:
    """A source of POST /v1/offers requests, each with its own title."""
    counter = itertools.count(1)
    title = body["title"]

    def next_request() -> bytes:
        encoded = msgspec.json.encode({**body, "title": f"{title} (bench {next(counter)})"})
        return post_request(host, "/v1/offers", key, encoded)

    return next_request


def expect(response: httpx.Response, status: int) -> dict:
    """The JSON body of a response with the expected status; otherwise raise with what came back."""
    if response.status_code != status:
        request = response.request
        raise RuntimeError(
            f"setup: {request.method} {request.url.path} answered {response.status_code}, expected {status}: {response.text[:500]}"
        )
    return response.json()


def prepare(url: str, operator_key: str) -> Fixture:
    """Register and verify an institute, publish SETUP_OFFERS offers, and capture public response bodies."""
    suffix = secrets.token_hex(4)
    org = {
        "name": f"Benchmark institute {suffix}",
        "kind": "institute",
        "province": "79",
        "contact_email": f"bench-{suffix}@institute.example.vn",
    }
    with httpx.Client(base_url=url, timeout=30.0, trust_env=False) as client:
        registered = expect(client.post("/v1/organizations", json=org), 201)
        org_id = registered["organization"]["id"]
        owner_key = registered["api_key"]
        expect(client.post(f"/v1/organizations/{org_id}/verify", headers=bearer(operator_key)), 200)
        ids = []
        for n in range(SETUP_OFFERS):
            body = offer_body(title=f"Công nghệ xử lý nước thải chăn nuôi bằng màng sinh học MBR, mẫu {n + 1}")
            offer_id = expect(client.post("/v1/offers", json=body, headers=bearer(owner_key)), 201)["id"]
            expect(client.post(f"/v1/offers/{offer_id}/submit", headers=bearer(owner_key)), 200)
            expect(client.post(f"/v1/offers/{offer_id}/approve", headers=bearer(operator_key)), 200)
            ids.append(offer_id)
        one = client.get(f"/v1/offers/{ids[0]}")
        expect(one, 200)
        page = client.get("/v1/offers")
        expect(page, 200)
    return Fixture(
        offer_ids=ids,
        owner_key=owner_key,
        offer_body=offer_body(title="Công nghệ xử lý nước thải chăn nuôi bằng màng MBR"),
        one_body=one.content,
        page_body=page.content,
    )


def demo_data_present() -> bool:
    """True when the demo JSON files `exchange serve --seed` loads are shipped."""
    folder = resources.files("exchange") / "demo"
    return all((folder / name).is_file() for name in ("organizations.json", "listings.json"))


def start_service(
    stack: devstack.Stack, operator_key: str, workdir: Path, seed: bool, workers: int
) -> tuple[str, subprocess.Popen]:
    """Start `exchange serve` on the stack, on a free loopback port, and wait until it is live."""
    port = processes.free_port()
    env = {
        **os.environ,
        **stack.env(),
        "OPERATOR_BOOTSTRAP_KEY": operator_key,
        "LOG_LEVEL": os.environ.get("BENCH_SERVICE_LOG_LEVEL", "WARNING"),
        "HOST": "127.0.0.1",
        "DATA_DIR": str(workdir),
    }
    args = [sys.executable, "-m", "exchange.cli", "serve", "--port", str(port), "--workers", str(workers)]
    if seed:
        args.append("--seed")
    log_path = workdir / "service.log"
    proc = processes.spawn(args, log_path, REPO, env)
    url = f"http://127.0.0.1:{port}"
    processes.wait_http("the service", proc, log_path, f"{url}/health/live", {})
    return url, proc


def start_bare(sample: Path, workdir: Path) -> tuple[str, subprocess.Popen]:
    """Start the bare app on a free loopback port, serving the captured offer, and wait until it is live."""
    port = processes.free_port()
    args = [sys.executable, "-m", "bench.bare_app", "--port", str(port), "--sample", str(sample)]
    log_path = workdir / "bare.log"
    proc = processes.spawn(args, log_path, REPO, dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    processes.wait_http("the bare app", proc, log_path, f"{url}/bare/live", {})
    return url, proc


def address(url: str) -> tuple[str, int, str]:
    """Host, port and Host header of an http:// URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit(f"bench: only plain http:// URLs are supported, not {url!r}")
    port = parts.port or 80
    return parts.hostname, port, f"{parts.hostname}:{port}"


async def run_all(
    service_url: str,
    service_pid: int | None,
    bare_url: str,
    bare_pid: int,
    fixture: Fixture,
    args: argparse.Namespace,
    rows: list[Row],
) -> None:
    """Measure every (endpoint, concurrency) on the service, then its bare counterpart right after."""
    s_host, s_port, s_header = address(service_url)
    b_host, b_port, b_header = address(bare_url)
    endpoints = [
        (
            "GET /v1/offers/{id}",
            cycle_source([get_request(s_header, f"/v1/offers/{i}") for i in fixture.offer_ids]),
            "/bare/offer",
        ),
        (
            "GET /offers/{id}",
            cycle_source([get_request(s_header, f"/offers/{i}", "text/html") for i in fixture.offer_ids]),
            "/bare/offer",
        ),
        ("GET /v1/offers", cycle_source([get_request(s_header, "/v1/offers")]), "/bare/offers"),
        ("POST /v1/offers", post_offer_source(s_header, fixture.owner_key, fixture.offer_body), "/bare/offer"),
    ]
    for label, source, bare_path in endpoints:
        bare_source = cycle_source([get_request(b_header, bare_path)])
        for concurrency in args.concurrency:
            print(f"  {label} at {concurrency} ...", file=sys.stderr, flush=True)
            service = await drive(s_host, s_port, source, concurrency, args.duration, args.requests, service_pid)
            bare = await drive(b_host, b_port, bare_source, concurrency, args.duration, args.requests, bare_pid)
            rows.append(Row(label, bare_path, concurrency, service, bare))


async def background_settled(database_url: str, timeout: float = 900.0) -> float:
    """Wait until the service's background jobs have handled every outbox event (indexing and vectors after the
    set-up's publications); returns the seconds waited."""
    import asyncpg

    started = time.perf_counter()
    conn = await asyncpg.connect(database_url)
    try:
        while (await outbox.backlog(conn))[0]:
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"the service's background jobs were still busy after {timeout:g} s")
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    return time.perf_counter() - started


async def postgres_version(database_url: str) -> str:
    """The server version of the embedded PostgreSQL."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


def run_async(coro: object) -> object:
    """Run a coroutine on uvloop when it is installed (as the service does), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, if there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def version(name: str) -> str:
    """An installed distribution's version, or 'absent'."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def field_count(body: bytes) -> int:
    """The number of top-level fields of a JSON object (or of a page's first item)."""
    data = msgspec.json.decode(body)
    if "items" in data:
        data = data["items"][0] if data["items"] else {}
    return len(data)


def print_facts(service_desc: str, fixture: Fixture, bare_url: str, pg: str, args: argparse.Namespace) -> None:
    """The machine, the versions and what is being measured."""
    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    bare_one = httpx.get(f"{bare_url}/bare/offer", trust_env=False).content
    bare_page = httpx.get(f"{bare_url}/bare/offers", trust_env=False).content
    page_items = len(msgspec.json.decode(fixture.page_body)["items"])
    mode = f"{args.requests} requests" if args.requests else f"{args.duration:g} s"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(
        f"machine: {cores} cores ({usable} usable), {cpu_model()}, {platform.system()} {platform.release()}; load average {load}"
    )
    print(
        f"python {platform.python_version()}; "
        + ", ".join(f"{n} {version(n)}" for n in PACKAGES)
        + (f"; PostgreSQL {pg}" if pg else "")
    )
    print(f"service: {service_desc}")
    print(
        "bare app: Litestar + msgspec Struct handlers, no middleware, no database;"
        " same uvicorn settings (loop and http auto, access log off)"
    )
    print("load generator: this process, asyncio raw HTTP/1.1 keep-alive, one connection per client, closed loop;")
    print(
        f"  it shares the {usable} cores with the service, its database and the bare app, so figures are lower bounds"
    )
    print(f"per row: {WARMUP_SECONDS:g} s warm-up, then {mode}, first the service then its bare counterpart")
    print(
        f"bodies: GET /v1/offers/{{id}} {len(fixture.one_body)} B, {field_count(fixture.one_body)} fields"
        f" vs /bare/offer {len(bare_one)} B, {field_count(bare_one)} fields;"
        f" GET /v1/offers {len(fixture.page_body)} B, {page_items} items vs /bare/offers {len(bare_page)} B"
    )
    print()


def cells(row: Row) -> list[str]:
    """The table cells of one row."""
    s, b = row.service, row.bare
    ratio = f"{s.rps / b.rps:.2f}" if b.rps else "-"
    return [
        row.endpoint,
        str(row.concurrency),
        f"{s.p50_ms:.2f}",
        f"{s.p99_ms:.2f}",
        f"{s.rps:.0f}",
        str(s.errors),
        f"{b.p50_ms:.2f}",
        f"{b.p99_ms:.2f}",
        f"{b.rps:.0f}",
        ratio,
    ]


def format_line(values: list[str] | tuple[str, ...]) -> str:
    """One fixed-width line: the endpoint left-aligned, numbers right-aligned."""
    parts = [values[0].ljust(WIDTHS[0])] + [v.rjust(w) for v, w in zip(values[1:], WIDTHS[1:], strict=False)]
    return " | ".join(parts)


def print_table(rows: list[Row]) -> None:
    """The result table, its notes and every error seen."""
    print(format_line(HEADER))
    print("-+-".join("-" * w for w in WIDTHS))
    for row in rows:
        print(format_line(cells(row)))
    print()
    print(
        "bare counterparts: GET /v1/offers/{id}, GET /offers/{id} and POST /v1/offers -> GET /bare/offer;"
        " GET /v1/offers -> GET /bare/offers"
    )
    print(
        "ratio = service req/s / bare req/s; req/s and latencies count every answered request; errors = non-2xx + transport failures"
    )
    print_page_ratio(rows)
    errors = [(f"{r.endpoint} at {r.concurrency}", r.service) for r in rows if r.service.errors]
    errors += [(f"{r.bare_path} (bare) at {r.concurrency}", r.bare) for r in rows if r.bare.errors]
    if not errors:
        print("errors: none")
        return
    print("ERRORS:")
    for name, figures in errors:
        for kind, count in figures.kinds.most_common():
            print(f"  {name}: {count} x {kind}: {figures.samples[kind]}")


def print_page_ratio(rows: list[Row]) -> None:
    """The HTML page of an offer beside its public JSON, measured in the same run: page req/s / JSON req/s."""
    by = {(r.endpoint, r.concurrency): r.service for r in rows}
    for (endpoint, concurrency), page in by.items():
        json_figures = by.get(("GET /v1/offers/{id}", concurrency))
        if endpoint == "GET /offers/{id}" and json_figures is not None and json_figures.rps:
            print(
                f"GET /offers/{{id}} (HTML) / GET /v1/offers/{{id}} (JSON) at {concurrency}:"
                f" {page.rps:.0f} / {json_figures.rps:.0f} req/s = {page.rps / json_figures.rps:.2f};"
                f" p50 {page.p50_ms:.2f} / {json_figures.p50_ms:.2f} ms"
            )


def percent(value: float | None) -> str:
    """A CPU share as a whole per cent, or '-' when unknown."""
    return "-" if value is None or math.isnan(value) else f"{value:.0f}"


def print_cpu(rows: list[Row]) -> None:
    """Where the CPU went during each measured stretch, in per cent of one core."""
    if not any(r.service.cpu for r in rows):
        return
    print()
    print(
        f"CPU while measuring, % of one core ({os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}): service run | bare run"
    )
    print(
        format_cpu_line(("endpoint", "conc", "client", "service", "rest", "total", "client", "bare", "rest", "total"))
    )
    for r in rows:
        s, b = r.service.cpu, r.bare.cpu
        values = [s.get(k) for k in ("client", "server", "rest", "total")] + [
            b.get(k) for k in ("client", "server", "rest", "total")
        ]
        print(format_cpu_line((r.endpoint, str(r.concurrency), *(percent(v) for v in values))))
    print(
        "client = this load generator; rest = everything else on the machine: PostgreSQL, and any other work running meanwhile"
    )
    print(
        "(per-process figures are sampled by the kernel, the machine total is not: columns may miss the total by ~10, rest is floored at 0)"
    )


def format_cpu_line(values: tuple[str, ...]) -> str:
    """One fixed-width line of the CPU table."""
    return " | ".join([values[0].ljust(WIDTHS[0]), values[1].rjust(4)] + [v.rjust(7) for v in values[2:]])


def print_log_tail(log_path: Path) -> None:
    """Show the end of the service's log (it runs with LOG_LEVEL=WARNING), if it wrote anything."""
    text = processes.log_tail(log_path) if log_path.exists() else ""
    if text.strip():
        print(f"\nthe service's log (last lines):\n{text}")


def concurrency_list(text: str) -> list[int]:
    """Parse '1,8,32'."""
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give positive integers such as 1,8,32")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.http_bench", description=__doc__)
    p.add_argument(
        "--url", help="a running service (http://host:port); default: start the embedded stack and the service"
    )
    p.add_argument(
        "--operator-key", help="an operator's API key (needed with --url, to verify the benchmark's institute)"
    )
    p.add_argument("--concurrency", type=concurrency_list, default=[1, 8, 32], help="clients per run, e.g. 1,8,32")
    p.add_argument("--duration", type=float, default=5.0, help="seconds measured per run (default 5)")
    p.add_argument("--requests", type=int, default=None, help="measure exactly this many requests per run instead")
    p.add_argument("--workers", type=int, default=1, help="worker processes of the service it starts (default 1)")
    args = p.parse_args(argv)
    if args.url and not args.operator_key:
        p.error("--url needs --operator-key")
    return args


def stop_on_sigterm(signum: int, frame: object) -> None:
    """Turn SIGTERM into an exception so that cleanup runs."""
    raise KeyboardInterrupt


@dataclass
class Started:
    """What one benchmark run started: its work folder, the embedded stack and child processes."""

    workdir: Path
    stack: devstack.Stack | None = None
    children: list[subprocess.Popen] = field(default_factory=list)

    def start_stack(self) -> devstack.Stack:
        """A fresh embedded stack under the work folder."""
        print("starting the embedded stack and the service ...", file=sys.stderr, flush=True)
        self.stack = devstack.Stack(self.workdir / "stack", fresh=True).start()
        return self.stack

    def start_service(
        self, stack: devstack.Stack, operator_key: str, seed: bool, workers: int
    ) -> tuple[str, subprocess.Popen]:
        """`exchange serve` on the stack, stopped with the run."""
        url, proc = start_service(stack, operator_key, self.workdir, seed, workers)
        self.children.append(proc)
        return url, proc


@contextlib.contextmanager
def bench_run(prefix: str) -> Iterator[Started]:
    """One benchmark run (SIGTERM stops it like Ctrl-C): on the way out, what it started stops and its folder goes."""
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    run = Started(Path(tempfile.mkdtemp(prefix=prefix)))
    try:
        yield run
    finally:
        for proc in reversed(run.children):
            processes.terminate(proc)
        if run.stack is not None:
            run.stack.stop()
        if os.environ.get("BENCH_KEEP_LOG"):
            shutil.copy(run.workdir / "service.log", os.environ["BENCH_KEEP_LOG"])
        shutil.rmtree(run.workdir, ignore_errors=True)


def run_measured(prefix: str, label: str, measure: Callable[[Started], int]) -> int:
    """Run one benchmark in its own work folder: a setup failure is one line and exit 1, Ctrl-C exit 130."""
    with bench_run(prefix) as started:
        try:
            return measure(started)
        except (RuntimeError, httpx.HTTPError, OSError, asyncpg.PostgresError) as exc:
            print(f"{label}: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; stopping what this run started", file=sys.stderr)
            return 130


def main(argv: list[str] | None = None) -> int:
    """Set up, measure, print, and stop everything this run started."""
    args = parse_args(argv)
    rows: list[Row] = []
    with bench_run("exchange-bench-") as run:
        try:
            return measure(args, run, rows)
        except (RuntimeError, httpx.HTTPError) as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; stopping what this run started", file=sys.stderr)
            if rows:
                print_table(rows)
            return 130


def measure(args: argparse.Namespace, run: Started, rows: list[Row]) -> int:
    """Start (or reach) the service, set up, measure into rows and print."""
    pg = ""
    service_pid = None
    if args.url:
        service_url = args.url.rstrip("/")
        operator_key = args.operator_key
        service_desc = f"{service_url} (given)"
    else:
        stack = run.start_stack()
        operator_key = secrets.token_urlsafe(32)
        seed = demo_data_present()
        service_url, proc = run.start_service(stack, operator_key, seed, args.workers)
        service_pid = proc.pid
        pg = str(run_async(postgres_version(stack.database_url)))
        seeded = "demo data seeded" if seed else "no demo data (exchange/demo has no JSON files), not seeded"
        service_desc = (
            f"`exchange serve --workers {args.workers}` on the embedded stack (PostgreSQL on a unix socket), {seeded}"
        )
    print(f"creating {SETUP_OFFERS} published offers ...", file=sys.stderr, flush=True)
    fixture = prepare(service_url, operator_key)
    sample = run.workdir / "offer.json"
    sample.write_bytes(fixture.one_body)
    bare_url, bare_proc = start_bare(sample, run.workdir)
    run.children.append(bare_proc)
    service_desc += f"; setup published {SETUP_OFFERS} offers of its own"
    if run.stack is not None:
        # Published listings are indexed and their vectors computed in the service: measure it once that is done.
        print("waiting for the service's background jobs (indexing, vectors) ...", file=sys.stderr, flush=True)
        waited = run_async(background_settled(run.stack.database_url))
        service_desc += f"; measured once its background jobs had settled ({waited:.0f} s after setup)"
    print_facts(service_desc, fixture, bare_url, pg, args)
    print("measuring ...", file=sys.stderr, flush=True)
    run_async(run_all(service_url, service_pid, bare_url, bare_proc.pid, fixture, args, rows))
    print_table(rows)
    print_cpu(rows)
    print_log_tail(run.workdir / "service.log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
