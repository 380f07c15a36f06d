"""Stripe sandbox for development and tests: localstripe on loopback, state in memory only.

localstripe is GPL-3.0 and a dev/test dependency: this is the only module that imports it (only inside serve()),
and nothing in the service imports this module; it runs as its own process:
`python -m exchange.dev.stripe_sandbox --port N [--host 127.0.0.1]`. With STRIPE_SANDBOX_WEBHOOK_URL and
STRIPE_SANDBOX_WEBHOOK_SECRET set it posts its events there from its first moment, as after every restart.
StripeSandbox starts and watches that process for the embedded stack.
"""

import argparse
import asyncio
import ipaddress
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from exchange.dev.processes import free_port, spawn, terminate, wait_http

STRIPE_SECRET_KEY = "sk_test_devstack"
# How often StripeSandbox looks whether the process still runs.
WATCH_SECONDS = 0.5
# The sandbox reads its webhook from these at every start (registrations live in its memory only).
WEBHOOK_URL_VAR = "STRIPE_SANDBOX_WEBHOOK_URL"
WEBHOOK_SECRET_VAR = "STRIPE_SANDBOX_WEBHOOK_SECRET"

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


class StripeSandbox:
    """The Stripe sandbox as a child process on a fixed loopback port, started again whenever it dies.

    Everything it knows is in its memory: a restarted sandbox has lost its state, but not the webhook this stack
    delivers events to (given to it at every start)."""

    def __init__(self, data_dir: Path, secret_key: str = STRIPE_SECRET_KEY, webhook_secret: str = "") -> None:
        self.data_dir = Path(data_dir).resolve()
        self.log_path = self.data_dir / "stripe.log"
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret or "whsec_" + secrets.token_hex(24)
        self.webhook_url = ""
        self.port = 0
        self.api_base = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The running sandbox's process id."""
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> "StripeSandbox":
        """Start it, wait until it answers, and keep it running until stop()."""
        self.spawn()
        self.wait()
        return self

    def spawn(self) -> None:
        """Start the process (on the port it had before, if any) without waiting for it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        self.api_base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        if self.webhook_url:
            env[WEBHOOK_URL_VAR], env[WEBHOOK_SECRET_VAR] = self.webhook_url, self.webhook_secret
        args = [sys.executable, "-m", "exchange.dev.stripe_sandbox", "--host", "127.0.0.1", "--port", str(self.port)]
        # Run from the directory that holds the exchange package so that -m finds it installed or not.
        self._proc = spawn(args, self.log_path, Path(__file__).resolve().parent.parent, env)

    def wait(self) -> None:
        """Wait until the sandbox answers, then watch it."""
        assert self._proc is not None
        url = f"{self.api_base}/v1/customers"
        wait_http("Stripe sandbox", self._proc, self.log_path, url, {"Authorization": f"Bearer {self.secret_key}"})
        if self._watcher is None:
            self._stopping.clear()
            self._watcher = threading.Thread(target=self._watch, name="stripe-sandbox-watch", daemon=True)
            self._watcher.start()

    def stop(self) -> None:
        """Stop watching, then stop the process; safe to call twice."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
        if self._proc is not None:
            terminate(self._proc)
            self._proc = None

    def restart(self) -> None:
        """Stop then start it on the same port (its state is lost; its webhook is registered again)."""
        with self._lock:
            if self._proc is not None:
                terminate(self._proc)
            self.spawn()
            self.wait()

    def deliver_events_to(self, url: str, secret: str | None = None) -> None:
        """Have the sandbox post its events to url, signed with secret (webhook_secret by default): now, and after every
        restart."""
        self.webhook_url = url
        self.webhook_secret = secret or self.webhook_secret
        register_stripe_webhook(self.api_base, self.secret_key, url, self.webhook_secret)

    def pause(self) -> None:
        """Freeze it (SIGSTOP): it accepts connections but answers nothing until resume()."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a frozen sandbox run again (SIGCONT)."""
        os.kill(self.pid, signal.SIGCONT)

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_SECONDS):
            with self._lock:
                if self._stopping.is_set() or self._proc is None or self._proc.poll() is None:
                    continue
                print(f"the Stripe sandbox exited ({self._proc.returncode}); starting it again", file=sys.stderr)
                try:
                    self.spawn()
                    self.wait()
                except RuntimeError as exc:
                    print(exc, file=sys.stderr)  # tried again on the next look


def register_stripe_webhook(
    api_base: str, secret_key: str, url: str, webhook_secret: str, webhook_id: str = "exchange"
) -> None:
    """Have the Stripe sandbox deliver its events to url, signed with webhook_secret (kept in its memory only)."""
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        answer = client.post(
            f"{api_base.rstrip('/')}/_config/webhooks/{webhook_id}",
            data={"url": url, "secret": webhook_secret},
            headers={"Authorization": f"Bearer {secret_key}"},
        )
        answer.raise_for_status()


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
        os.environ.get(WEBHOOK_URL_VAR, ""),
        os.environ.get(WEBHOOK_SECRET_VAR, ""),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
