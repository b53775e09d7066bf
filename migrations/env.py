"""Alembic environment: runs migrations synchronously over psycopg 3."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import Connection

from fiscus.core.cluster import tenant_role_ensure
from fiscus.core.db import libpq_url, sqlalchemy_url
from fiscus.core.models import Base, import_all_models

import_all_models()

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave procrastinate's tables to procrastinate; autogenerate compares only ours."""
    return not (type_ == "table" and name is not None and name.startswith("procrastinate"))


def _url() -> str:
    url = config.attributes.get("url") or os.environ.get("FISCUS_DATABASE_URL")
    if not url:
        raise SystemExit("Set FISCUS_DATABASE_URL, or run migrations with `fiscus migrate`.")
    return sqlalchemy_url(str(url))


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


# Two processes migrating the same database (two `fiscus serve` starting together) take
# turns: the second waits here, then reads the version table the first committed and finds
# nothing left to do. The key is arbitrary but fixed ("fiscus migrate").
MIGRATION_LOCK_KEY = 0x6669_7363_7573_6D69


def _run(connection: Connection) -> None:
    # Roles are shared by every database of the server, so the lock above cannot order
    # their creation: it is made safe against concurrent creators, committed on its own
    # connection before the migration transaction (which would hide it until the end).
    tenant_role_ensure(libpq_url(connection.engine.url.render_as_string(hide_password=False)))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        # Held until this transaction ends; taken before Alembic reads the current version.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
