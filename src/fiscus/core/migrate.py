"""Run Alembic migrations from code (`fiscus migrate`, start-up, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

from fiscus.core.db import sqlalchemy_url

# The repository root holds alembic.ini and migrations/ (src layout: src/fiscus/core/..).
ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = ROOT / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    if not MIGRATIONS.is_dir():
        raise RuntimeError(f"migrations folder not found at {MIGRATIONS}")
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def upgrade(url: str, target: str = "heads") -> None:
    """Apply migrations up to `target` (every head by default)."""
    command.upgrade(alembic_config(url), target)


def downgrade(url: str, target: str = "base") -> None:
    """Revert migrations down to `target`."""
    command.downgrade(alembic_config(url), target)


def script_heads(url: str = "postgresql://unused") -> set[str]:
    """Revisions the code expects the database to be at."""
    return set(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def current_heads_sync(connection: Connection) -> set[str]:
    """Revisions the connected database is at."""
    return set(MigrationContext.configure(connection).get_current_heads())


def current_heads(url: str) -> set[str]:
    """Revisions the database at `url` is at."""
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return current_heads_sync(connection)
    finally:
        engine.dispose()


def pending_revisions(url: str) -> int:
    """How many revisions are not yet applied (for the CLI's progress bar)."""
    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    applied = current_heads(url)
    total = sum(1 for _ in script.walk_revisions())
    if not applied:
        return total
    done: set[str] = set()
    for head in applied:
        for revision in script.iterate_revisions(head, "base"):
            done.add(revision.revision)
    return total - len(done)
