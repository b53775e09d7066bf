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
from fiscus.core.keyring import KeyRing

# The repository root holds alembic.ini and migrations/ (src layout: src/fiscus/core/..).
ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = ROOT / "migrations"


def alembic_config(url: str, *, root_secrets: list[str] | None = None) -> Config:
    """An Alembic config pointing at our migrations and the given database.

    `root_secrets` open the key ring for data migrations that encrypt existing rows; without
    them such a migration reads the settings (FISCUS_SECRET_KEY) when it has rows to seal.
    """
    if not MIGRATIONS.is_dir():
        raise RuntimeError(f"migrations folder not found at {MIGRATIONS}")
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    if root_secrets:
        config.attributes["root_secrets"] = list(root_secrets)
    return config


def upgrade(url: str, target: str = "heads", *, root_secrets: list[str] | None = None) -> None:
    """Apply migrations up to `target` (every head by default)."""
    command.upgrade(alembic_config(url, root_secrets=root_secrets), target)


def migration_keyring(connection: Connection) -> KeyRing:
    """The key ring, opened on the migration's connection, for a data migration that seals
    existing rows (creating the keys on a database that has none yet)."""
    from alembic import op

    roots = op.get_context().config.attributes.get("root_secrets")  # type: ignore[union-attr]
    if not roots:
        from fiscus.core.config import load_settings

        roots = load_settings().root_secrets
    ring = KeyRing(roots)
    ring.load_sync(connection)
    return ring


def downgrade(url: str, target: str = "base") -> None:
    """Revert migrations down to `target`."""
    command.downgrade(alembic_config(url), target)


def script_heads(url: str = "postgresql://unused") -> set[str]:
    """Revisions the code expects the database to be at.

    A head that another branch's revision `depends_on` (the key ring's table, which data
    migrations that seal rows need) is not recorded in `alembic_version` once that
    revision is applied: Alembic folds it into the dependent's branch. It is left out here
    too, or a fully migrated database would never look migrated.
    """
    script = ScriptDirectory.from_config(alembic_config(url))
    needed = {
        dependency
        for revision in script.walk_revisions()
        for dependency in revision._resolved_dependencies
    }
    return set(script.get_heads()) - needed


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
