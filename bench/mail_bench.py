"""Mail at volume: messages rendered and queued per second (both languages), then sent per second to the local SMTP server.

Starts its own embedded stack in a temporary directory, makes one organization with --members members, queues one
invoice-like message to each of them through the consumer's own queueing, and sends the queue with the sender the
service runs (one SMTP connection per message, as it does).
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from exchange.dev.stack import Stack
from exchange.kernel import db
from exchange.kernel.settings import Settings
from exchange.mail import repo, sender, service
from exchange.mail.messages import Content


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.mail_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=500, help="recipients, one message each (default 500)")
    return parser.parse_args(argv)


async def run(stack: Stack, members: int) -> None:
    """Queue and send one message per member; print the rates."""
    settings = Settings(database_url=stack.database_url, smtp_url=stack.smtp.url, mail_secret="bench")
    conn = await db.connect(stack.database_url)
    await db.migrate(conn)
    org = await conn.fetchval(
        "INSERT INTO organizations (name, kind, province, contact_email) VALUES ('Bench', 'enterprise', '79',"
        " 'bench@bench.example.vn') RETURNING id"
    )
    await conn.executemany(
        "INSERT INTO members (org_id, name, email, role) VALUES ($1, $2, $3, 'viewer')",
        [(org, f"Member {i}", f"m{i}@bench.example.vn") for i in range(members)],
    )
    await conn.execute(
        "INSERT INTO mail_settings (member_id, language) SELECT id, CASE WHEN random() < 0.5 THEN 'en' ELSE 'vi' END"
        " FROM members"
    )
    recipients = await repo.org_members(conn, [org])

    def content(language: str) -> Content:
        return Content(kind="invoice_issued", fields={"title": "Bench deal", "amount": "1.000.000 VND"})

    started = time.perf_counter()
    async with conn.transaction():
        queued = await service.queue(conn, settings, recipients, "invoice_issued", str(uuid.uuid4()), content)
    queue_seconds = time.perf_counter() - started
    await conn.close()

    pool: asyncpg.Pool = await db.create_pool(stack.database_url, min_size=1, max_size=2)
    started = time.perf_counter()
    sent = 0
    while batch := await sender.send_due(pool, settings, limit=1000):
        sent += batch
    send_seconds = time.perf_counter() - started
    await pool.close()
    stored = len(stack.smtp.messages())
    print(f"queued {queued} messages in {queue_seconds:.2f} s: {queued / queue_seconds:.0f} per second")
    print(f"sent {sent} messages in {send_seconds:.2f} s: {sent / send_seconds:.0f} per second ({stored} .eml stored)")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark on a fresh embedded stack."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mail-bench-") as folder, Stack(Path(folder), fresh=True) as stack:
        asyncio.run(run(stack, args.members))


if __name__ == "__main__":
    main()
