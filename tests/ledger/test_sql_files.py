"""The ledger's PL/pgSQL lives in versioned files: the database runs the newest of each,
and a loaded file cannot be edited without the migration that pinned it noticing."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import psycopg
import pytest

from fiscus.core.db import libpq_url
from fiscus.ledger.sql import SQL_DIR, SqlFileChanged, sql_current, sql_load

_SETTING = re.compile(r"\bSET (\w+) = (\w+)")


def _parts(path: Path) -> tuple[str, list[str]]:
    """(body between the dollar quotes, `name=value` settings declared before it)."""
    text = path.read_text(encoding="utf-8")
    header, body, _ = text.split("$$", 2)
    return body, [f"{name}={value}" for name, value in _SETTING.findall(header)]


def _sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_database_runs_the_newest_file_of_every_ledger_function(database_url: str) -> None:
    current = sql_current()
    with psycopg.connect(libpq_url(database_url)) as connection:
        rows = connection.execute(
            "SELECT p.proname, p.prosrc, coalesce(p.proconfig, '{}') FROM pg_proc p"
            " JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND p.proname LIKE 'ledger\\_%'"
        ).fetchall()
    installed = {name: (source, sorted(config)) for name, source, config in rows}
    assert len(rows) == len(installed), "a ledger function is overloaded"
    assert set(installed) == set(current), "every ledger function has a file, and no more"
    for name, path in current.items():
        body, settings = _parts(path)
        assert installed[name] == (body, sorted(settings)), f"{name} differs from {path.name}"


def test_a_changed_file_is_refused_by_the_migration_that_pinned_it() -> None:
    name = sorted(SQL_DIR.glob("*.sql"))[0].name
    text = sql_load(name, sha256=_sha256_of(SQL_DIR / name))
    assert text.startswith("CREATE OR REPLACE FUNCTION")
    with pytest.raises(SqlFileChanged, match="add a new version"):
        sql_load(name, sha256="0" * 64)


def test_every_file_is_pinned_by_a_migration() -> None:
    migrations = Path(__file__).parents[2] / "migrations" / "versions"
    pinned = "".join(path.read_text() for path in migrations.glob("*_02*.py"))
    for path in SQL_DIR.glob("*.sql"):
        assert f'"{path.name}"' in pinned, f"no migration loads {path.name}"
        assert _sha256_of(path) in pinned, f"{path.name} differs from its pinned SHA-256"
