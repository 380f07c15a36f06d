"""Bulk import: rows through POST /v1/imports until the import is done, beside the same rows POSTed one by one.

For each size (default 100 then 1,000 offers with mostly distinct texts from the search benchmark's corpus), one
organization imports them as a JSON Lines file and the run waits until GET /v1/imports/{id} says done; the same rows
are then created one by one through POST /v1/offers by a single client, and by 8 clients at once, in the same run.
"""

import argparse
import json
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.http_bench import Started, expect, run_measured
from bench.notify_bench import bodies, organizations
from tests.support import bearer

POLL_SECONDS = 0.1
TIMEOUT = 600.0
CLIENTS = 8


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.import_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="rows per import (default 100,1000)")
    return parser.parse_args(argv)


def imported(client: httpx.Client, key: str, rows: list[dict]) -> float:
    """Seconds from sending the file until the import is done with every row created."""
    file = "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()
    headers = bearer(key) | {"Content-Type": "application/x-ndjson"}
    started = time.perf_counter()
    job = expect(client.post("/v1/imports", params={"kind": "offers"}, content=file, headers=headers), 202)
    while job["status"] in ("queued", "running"):
        if time.perf_counter() - started > TIMEOUT:
            raise RuntimeError(f"the import of {len(rows)} rows was not done after {TIMEOUT:.0f} s")
        time.sleep(POLL_SECONDS)
        job = expect(client.get(f"/v1/imports/{job['id']}", headers=bearer(key)), 200)
    seconds = time.perf_counter() - started
    if job["created"] != len(rows):
        raise RuntimeError(f"the import created {job['created']} of {len(rows)} rows: {job['errors'][:3]}")
    return seconds


def one_by_one(url: str, key: str, rows: list[dict], clients: int) -> float:
    """Seconds to create the rows through POST /v1/offers, with this many clients at once."""

    def post(chunk: list[dict]) -> None:
        with httpx.Client(base_url=url, timeout=120.0, trust_env=False) as client:
            for row in chunk:
                expect(client.post("/v1/offers", json=row, headers=bearer(key)), 201)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, [rows[i::clients] for i in range(clients)]))
    return time.perf_counter() - started


def measure(args: argparse.Namespace, started: Started) -> int:
    """Import each size, then post the same rows one by one; print the table."""
    sizes = [int(s) for s in args.sizes.split(",")]
    stack = started.start_stack()
    operator = secrets.token_urlsafe(32)
    url, _ = started.start_service(stack, operator, seed=False, workers=1)
    lines, start = [], 0
    with httpx.Client(base_url=url, timeout=120.0, trust_env=False) as client:
        for size in sizes:
            rows = bodies("offer", size, start)
            start += size * 3
            importer, single, many = organizations(client, operator, "institute", 3, f"imp{size}")
            print(f"importing {size} rows ...", file=sys.stderr, flush=True)
            through_import = imported(client, importer, rows)
            print(f"posting {size} rows one by one ...", file=sys.stderr, flush=True)
            alone = one_by_one(url, single, rows, 1)
            at_once = one_by_one(url, many, rows, CLIENTS)
            lines.append(
                f"| {size} | {through_import:.1f} | {size / through_import:.0f} | {alone:.1f} | {size / alone:.0f}"
                f" | {at_once:.1f} | {size / at_once:.0f} | {alone / through_import:.2f} |"
            )
    print("bulk import (JSON Lines, offers) against POST /v1/offers with the same rows, same service, same run")
    print(
        "| rows | import (s) | rows/s | one by one, 1 client (s) | rows/s"
        f" | {CLIENTS} clients (s) | rows/s | import speed-up over 1 client |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for line in lines:
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, stopping what it started on the way out."""
    args = parse_args(argv)
    return run_measured("exchange-import-bench-", "import_bench", lambda started: measure(args, started))


if __name__ == "__main__":
    sys.exit(main())
