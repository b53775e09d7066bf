"""A real `fiscus serve` process on its own database, for black-box tests over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import TEST_SECRET


@dataclass(frozen=True)
class LiveServer:
    """A running server: its base URL, database URL and process."""

    base_url: str
    database_url: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(base_url: str, process: subprocess.Popen[bytes], attempts: int = 240) -> None:
    """Poll /readyz until 200; fail if the process dies or it never gets ready."""
    for _ in range(attempts):
        if process.poll() is not None:
            raise AssertionError(f"fiscus serve exited with {process.returncode}")
        try:
            if httpx.get(base_url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError("fiscus serve never became ready")


@contextmanager
def live_server(
    database_url: str, *, log_file: Path, extra_env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """Serve the app on a free port against `database_url`; stop it afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
    env.update(
        {
            "FISCUS_DATABASE_URL": database_url,
            "FISCUS_PORT": str(port),
            "FISCUS_ENV": "test",
            "FISCUS_SECRET_KEY": TEST_SECRET,
            "FISCUS_LOG_LEVEL": "INFO",
        }
    )
    env.update(extra_env or {})
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fiscus.cli", "serve", "--no-migrate"],
            env=env,
            stdout=log,
            stderr=log,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process)
        yield LiveServer(base_url, database_url, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def fiscus_cli(
    *args: str, env: dict[str, str], timeout_s: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run the `fiscus` command with exactly these FISCUS_* settings (none inherited)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
    return subprocess.run(
        [sys.executable, "-m", "fiscus.cli", *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
