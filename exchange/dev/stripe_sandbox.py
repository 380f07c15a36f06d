"""Stripe sandbox for development and tests: localstripe on loopback, state in memory only.

localstripe is GPL-3.0 and a dev/test dependency: this is the only module that imports it,
and nothing in the service imports this module; it runs as its own process:
`python -m exchange.dev.stripe_sandbox --port N [--host 127.0.0.1]`. With STRIPE_SANDBOX_WEBHOOK_URL and
STRIPE_SANDBOX_WEBHOOK_SECRET set it posts its events there from its first moment, as after every restart.
"""

import argparse
import asyncio
import ipaddress
import logging
import os
import sys

logger = logging.getLogger("exchange.dev.stripe_sandbox")


def is_loopback(host: str) -> bool:
    """True when host is a loopback IP address literal (127.0.0.0/8 or ::1)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _exit_with_parent(parent: int) -> None:
    # A sandbox started again from the stack's watcher thread gets no parent-death signal: it looks for itself.
    while os.getppid() == parent:
        await asyncio.sleep(1.0)
    os._exit(0)


def serve(host: str, port: int, webhook_url: str = "", webhook_secret: str = "") -> None:
    """Run localstripe's aiohttp app on host:port until interrupted (or until the process that started it is gone)."""
    if not is_loopback(host):
        raise ValueError(f"the Stripe sandbox binds loopback addresses only, not {host!r}")

    from aiohttp import web
    from localstripe import resources, server, webhooks

    # The stock store pickles itself to a fixed file in /tmp on every write and reloads it
    # at start, which leaks state between runs and corrupts on restart: keep it in memory.
    resources.store.dump_to_disk = lambda: None
    resources.store.try_load_from_disk = lambda: None
    if webhook_url:
        webhooks.register_webhook("exchange", webhook_url, webhook_secret, None)
    parent = os.getppid()
    tasks: set[asyncio.Task[None]] = set()

    async def watch_parent(_: web.Application) -> None:
        tasks.add(asyncio.get_running_loop().create_task(_exit_with_parent(parent)))

    server.app.on_startup.append(watch_parent)

    logger.warning("stripe sandbox listening on http://%s:%d", host, port)
    web.run_app(server.app, host=host, port=port, access_log=None, print=None)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(prog="python -m exchange.dev.stripe_sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host must be a loopback address, not {args.host!r}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(
        args.host,
        args.port,
        os.environ.get("STRIPE_SANDBOX_WEBHOOK_URL", ""),
        os.environ.get("STRIPE_SANDBOX_WEBHOOK_SECRET", ""),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
