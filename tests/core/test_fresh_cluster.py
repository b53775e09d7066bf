"""Several processes migrating at once on a PostgreSQL server that has never seen fiscus.

Each test starts its own brand-new cluster from the embedded wheel in a temporary folder
(never the shared server, whose roles other checkouts use) and stops it at the end. The
tenant role is cluster-wide: before the fix, the first migrator's uncommitted
`CREATE ROLE fiscus_app` made every concurrent one fail on pg_authid's unique index.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from fiscus.core.embedded import EmbeddedPostgres
from fiscus.core.migrate import current_heads, script_heads
from tests.conftest import TEST_SECRET
from tests.live import free_port, wait_ready

pytestmark = pytest.mark.xdist_group("fresh-cluster")


@pytest.fixture
def fresh_server() -> Iterator[str]:
    """URL of the `fiscus` database of a brand-new cluster (no fiscus_app role yet)."""
    folder = Path(tempfile.mkdtemp(prefix="fiscus-fresh-"))
    embedded = EmbeddedPostgres(folder / "data")
    try:
        url = embedded.start()
        with psycopg.connect(url) as connection:
            roles = connection.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'fiscus_app'")
            assert roles.fetchone() == (0,)
        yield url
    finally:
        embedded.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
    return (
        env
        | {
            "FISCUS_DATABASE_URL": url,
            "FISCUS_SECRET_KEY": TEST_SECRET,
            "FISCUS_ENV": "test",
            "FISCUS_LOG_LEVEL": "WARNING",
        }
        | extra
    )


def test_concurrent_migrations_of_several_databases_on_a_new_cluster_all_succeed(
    fresh_server: str,
) -> None:
    # Three databases, one of them migrated by two processes at once: five migrators.
    urls = [_database(fresh_server, f"fresh_{n}") for n in ("a", "b", "c")]
    targets = [urls[0], urls[0], urls[1], urls[2], urls[1]]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "fiscus.cli", "migrate"],
            env=_env(url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for url in targets
    ]
    outcomes = []
    try:
        for process in processes:
            _, stderr = process.communicate(timeout=300)
            outcomes.append((process.returncode, stderr[-3000:]))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert [code for code, _ in outcomes] == [0] * len(targets), outcomes
    expected = script_heads()
    for url in urls:
        assert current_heads(url) == expected
    with psycopg.connect(fresh_server) as connection:
        roles = connection.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'fiscus_app'")
        assert roles.fetchone() == (1,)


def test_two_serves_starting_together_on_a_new_servers_database_both_come_up(
    fresh_server: str, tmp_path: Path
) -> None:
    url = _database(fresh_server, "fresh_serve")
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"serve-{n}.log" for n in range(2)]
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port, log in zip(ports, logs, strict=True):
            with log.open("wb") as sink:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "fiscus.cli", "serve", "--no-worker"],
                        env=_env(url, FISCUS_PORT=str(port)),
                        stdout=sink,
                        stderr=sink,
                    )
                )
        for port, process, log in zip(ports, processes, logs, strict=True):
            try:
                wait_ready(f"http://127.0.0.1:{port}", process)
            except AssertionError as error:
                raise AssertionError(
                    f"{error}\n{log.read_text(errors='replace')[-3000:]}"
                ) from None
        assert current_heads(url) == script_heads()
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
