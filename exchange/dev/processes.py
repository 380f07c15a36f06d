"""Child processes of the embedded stack: started in their own group, stopped with it, waited for until they answer."""

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(path: Path, size: int = 4000) -> str:
    """The last few thousand characters of a log file."""
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return "(no log)"


def child_setup() -> Callable[[], None] | None:
    """A preexec function that makes a child get SIGTERM when this process dies (Linux, main thread only)."""
    # PDEATHSIG fires when the forking *thread* exits, so from any other thread it would kill the child early.
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent_pid = os.getpid()

    def setup() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:
            os._exit(1)

    return setup


def spawn(args: list[str], log_path: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a child in its own process group, output appended to log_path."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=child_setup(),
        )


def pid_in_file(path: Path) -> int | None:
    """The process id on the first line of a pid file (PostgreSQL's postmaster.pid), or None."""
    try:
        return int(path.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def wait_gone(pid: int, timeout: float = STOP_TIMEOUT) -> None:
    """Wait until a process that is not our child has exited (its pid file can go a moment before it does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            return  # the pid was reused by another user's process: ours is gone
        time.sleep(0.02)


def terminate(proc: subprocess.Popen[Any], timeout: float = STOP_TIMEOUT) -> None:
    """Stop a child's process group: SIGTERM, then SIGKILL after timeout."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def wait_http(name: str, proc: subprocess.Popen[Any], log_path: Path, url: str, headers: dict[str, str]) -> None:
    """Poll url until it answers 200; raise with the log tail if the child dies or the time runs out."""
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}; {log_path}:\n{log_tail(log_path)}")
            try:
                if client.get(url, headers=headers).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                message = f"{name} did not answer {url} in {READY_TIMEOUT:.0f} s"
                raise RuntimeError(f"{message}; {log_path}:\n{log_tail(log_path)}")
            time.sleep(0.05)
