"""Test harness: a real PostgreSQL per xdist worker, migrated once, cleaned after each test.

The server is FISCUS_TEST_DATABASE_URL if set, else one answering on 127.0.0.1:5432, else
the embedded server in `.fiscus-test/` (shared by the workers of one run).
"""

from __future__ import annotations

import hashlib
import os
import secrets
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
from tests.secrets_scan import ResponseLog, leaks, stored_secrets

ROOT = Path(__file__).resolve().parents[1]
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST_SECRET = "test-secret-" + "x" * 40
# Tables the suite never empties between tests.
KEPT_TABLES = frozenset({"alembic_version"})


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
