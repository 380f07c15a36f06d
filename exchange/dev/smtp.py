"""A local SMTP server for development and tests: accepts any message on loopback and stores it as an .eml file.

Runs as its own process (`python -m exchange.dev.smtp --port N --dir D`), started and stopped by the embedded stack
through SmtpServer; each message received is written to D/<time>-<id>.eml, complete with its headers."""

import argparse
import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exchange.dev.processes import READY_TIMEOUT, free_port, log_tail, spawn, terminate
from exchange.dev.stripe_sandbox import is_loopback

logger = logging.getLogger("exchange.dev.smtp")


class SaveToFolder:
    """An aiosmtpd handler that writes every message it accepts to a folder, one .eml file each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        """Store the message as received (atomically: a reader never sees half a file)."""
        # Microseconds in the name: listing the folder sorted gives the order of arrival.
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S.%f}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.folder / f".{name}.part"
        content = envelope.original_content or envelope.content
        partial.write_bytes(content if isinstance(content, bytes) else content.encode())
        partial.rename(self.folder / name)
        return "250 Message accepted for delivery"


async def _serve(host: str, port: int, folder: Path) -> None:
    from aiosmtpd.smtp import SMTP

    folder.mkdir(parents=True, exist_ok=True)
    handler = SaveToFolder(folder)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, hostname="localhost"), host, port, reuse_address=True)
    parent = os.getppid()
    logger.warning("SMTP server listening on %s:%d, storing mail under %s", host, port, folder)
    async with server:
        # Gone with the process that started it, however that one ended.
        while os.getppid() == parent:
            await asyncio.sleep(1.0)


def wait_smtp(proc: subprocess.Popen[bytes], log_path: Path, port: int) -> None:
    """Wait until the server greets on its port; raise with the log tail if it dies or the time runs out."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the SMTP server exited with code {proc.returncode}; {log_path}:\n{log_tail(log_path)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
                if sock.recv(3) == b"220":
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"the SMTP server did not answer in {READY_TIMEOUT:.0f} s; {log_path}:\n{log_tail(log_path)}"
            )
        time.sleep(0.05)


class SmtpServer:
    """The local SMTP server as a child process on a fixed loopback port, storing mail under data_dir/mail."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.mail_dir = self.data_dir / "mail"
        self.log_path = self.data_dir / "smtp.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """SMTP_URL for this server."""
        return f"smtp://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        """Start the process (on the port it had before, if any) without waiting for it."""
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        args = [sys.executable, "-m", "exchange.dev.smtp", "--port", str(self.port), "--dir", str(self.mail_dir)]
        self._proc = spawn(args, self.log_path, Path(__file__).resolve().parent.parent.parent, dict(os.environ))

    def wait(self) -> None:
        """Wait until it greets."""
        assert self._proc is not None
        wait_smtp(self._proc, self.log_path, self.port)

    def start(self) -> "SmtpServer":
        """Start it (again, on the same port) and wait until it greets."""
        if self._proc is None or self._proc.poll() is not None:
            self.spawn()
        self.wait()
        return self

    def stop(self) -> None:
        """Stop it; the stored mail stays. Safe to call twice."""
        if self._proc is not None:
            terminate(self._proc)
            self._proc = None

    def messages(self) -> list[Path]:
        """The .eml files stored so far, oldest first."""
        return sorted(self.mail_dir.glob("*.eml"))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve until the parent goes."""
    parser = argparse.ArgumentParser(prog="python -m exchange.dev.smtp", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True, help="where to store the .eml files")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    args = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error(f"--host must be a loopback address, not {args.host!r}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_serve(args.host, args.port, args.dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
