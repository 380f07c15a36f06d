"""Deal-journey benchmark: N complete journeys (listings to closed deal, fees paid through the Stripe sandbox)
run concurrently against a started service; prints journeys/s and p50/p99 of each step."""

import argparse
import asyncio
import contextlib
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx

from bench.http_bench import bench_run, percentile
from exchange.dev.stripe_sandbox import register_stripe_webhook
from tests.e2e.test_deal_journey import journey, parties

STEPS = ("publish", "interest", "accept", "open deal", "terms", "confirm", "invoiced", "pay", "closed")


class Timings:
    """Seconds per step, over every journey."""

    def __init__(self) -> None:
        self.steps: dict[str, list[float]] = defaultdict(list)

    @contextlib.asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        """Time one step of one journey."""
        start = time.perf_counter()
        yield
        self.steps[name].append(time.perf_counter() - start)


async def run(
    url: str, operator: str, stripe_api: str, stripe_key: str, count: int, concurrency: int
) -> tuple[Timings, list[float], float, int]:
    """Prepare the parties, then run the journeys `concurrency` at a time; returns timings, totals, wall time, failures."""
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits, trust_env=False) as http:
        print(f"registering {count * 3} organizations ...", file=sys.stderr, flush=True)
        everyone = [await parties(http, operator) for _ in range(count)]
        timings, totals, failures = Timings(), [], 0
        gate = asyncio.Semaphore(concurrency)

        async def one(p: object) -> None:
            nonlocal failures
            async with gate:
                start = time.perf_counter()
                try:
                    await journey(http, operator, p, stripe_api, stripe_key, timings.step)
                except (AssertionError, httpx.HTTPError) as exc:
                    failures += 1
                    print(f"journey failed: {exc}", file=sys.stderr)
                    return
                totals.append(time.perf_counter() - start)

        print(f"running {count} journeys, {concurrency} at a time ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        await asyncio.gather(*(one(p) for p in everyone))
        return timings, totals, time.perf_counter() - started, failures


def print_report(timings: Timings, totals: list[float], wall: float, failures: int, args: argparse.Namespace) -> None:
    """The figures as a Markdown table."""
    print(
        f"{len(totals)} journeys completed ({failures} failed), {args.concurrency} concurrent, "
        f"`exchange serve --workers {args.workers}`: {len(totals) / wall:.2f} journeys/s over {wall:.1f} s"
    )
    print()
    print("| step | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    for name in STEPS:
        values = sorted(timings.steps.get(name, []))
        if values:
            print(
                f"| {name} | {percentile(values, 0.50) * 1000:.0f} | {percentile(values, 0.99) * 1000:.0f} | {values[-1] * 1000:.0f} |"
            )
    ordered = sorted(totals)
    if ordered:
        print(
            f"| whole journey | {percentile(ordered, 0.50) * 1000:.0f} | {percentile(ordered, 0.99) * 1000:.0f}"
            f" | {ordered[-1] * 1000:.0f} |"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.deal_journeys", description=__doc__.splitlines()[0])
    p.add_argument("--journeys", type=int, default=40, help="how many journeys (default 40)")
    p.add_argument("--concurrency", type=int, default=20, help="journeys in flight at once (default 20)")
    p.add_argument("--workers", type=int, default=1, help="service worker processes (default 1)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start the embedded stack and the service, register its webhook, measure, print, stop everything."""
    args = parse_args(argv)
    with bench_run("exchange-journeys-") as started:
        try:
            stack = started.start_stack()
            operator = secrets.token_urlsafe(32)
            url, _ = started.start_service(stack, operator, False, args.workers)
            register_stripe_webhook(
                stack.stripe_api_base,
                stack.stripe_secret_key,
                f"{url}/v1/webhooks/stripe",
                stack.stripe_webhook_secret,
                webhook_id="bench",
            )
            timings, totals, wall, failures = asyncio.run(
                run(url, operator, stack.stripe_api_base, stack.stripe_secret_key, args.journeys, args.concurrency)
            )
            print_report(timings, totals, wall, failures, args)
            return 1 if failures else 0
        except (RuntimeError, httpx.HTTPError) as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted; stopping what this run started", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
