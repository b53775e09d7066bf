"""Migrations go up, down and up again on an empty database, and match the models."""

import psycopg
import pytest
from alembic import command

from fiscus.core.db import libpq_url
from fiscus.core.migrate import alembic_config, current_heads, downgrade, script_heads, upgrade
from tests.conftest import recreate_database, scratch_database_name


def _tables(url: str) -> set[str]:
    with psycopg.connect(libpq_url(url)) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def empty_database(server_url: str, worker_id: str) -> str:
    return recreate_database(server_url, scratch_database_name("migrations", worker_id))


def test_migrations_up_down_up_on_an_empty_database(empty_database: str) -> None:
    upgrade(empty_database)
    assert current_heads(empty_database) == script_heads()
    created = _tables(empty_database)
    assert {"events", "idempotency_keys", "procrastinate_jobs"} <= created

    downgrade(empty_database, "base")
    assert _tables(empty_database) == {"alembic_version"}
    assert current_heads(empty_database) == set()

    upgrade(empty_database)
    assert _tables(empty_database) == created


def test_models_match_the_migrations(empty_database: str) -> None:
    upgrade(empty_database)
    # Raises if autogenerate would produce any operation: models and schema agree.
    command.check(alembic_config(empty_database))
