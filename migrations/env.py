"""Alembic environment: runs migrations synchronously over psycopg 3."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from fiscus.core.db import sqlalchemy_url
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


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_name=include_name,
            on_version_apply=config.attributes.get("on_version_apply"),
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_name=include_name,
            on_version_apply=config.attributes.get("on_version_apply"),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
