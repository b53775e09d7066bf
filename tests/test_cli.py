"""The `fiscus` command: help on every command, version, migrate, and a dump/restore round trip."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from fiscus import __version__
from fiscus.cli import app as cli_app
from fiscus.core.db import libpq_url


def _walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    """(path, subcommand names) for the command and every command below it."""
    context = command.context_class(command)
    names = list(command.list_commands(context)) if hasattr(command, "list_commands") else []
    yield path, names
    for name in names:
        yield from _walk(command.get_command(context, name), [*path, name])


# Derived from the Typer app, so a new command or group is walked without being listed here.
COMMANDS = list(_walk(typer.main.get_command(cli_app), []))


def fiscus(
    *args: str, url: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FISCUS_LOG_LEVEL": "WARNING"}
    if url is not None:
        env["FISCUS_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "fiscus.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        input=stdin,
        check=False,
    )


def test_the_walk_reaches_every_group_and_its_subcommands() -> None:
    groups = {" ".join(path): names for path, names in COMMANDS if names}
    assert {"", "db", "keys", "admin", "audit", "ledger"} <= set(groups)
    assert all(groups.values())  # no empty group: each would show only its own help
    assert ["admin", "create-user"] in [path for path, _ in COMMANDS]
    assert ["admin", "unlock-user"] in [path for path, _ in COMMANDS]


def test_the_installed_command_answers_help() -> None:
    result = fiscus("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


@pytest.mark.parametrize(
    ("command", "subcommands"), COMMANDS, ids=[" ".join(c) or "fiscus" for c, _ in COMMANDS]
)
def test_every_command_has_help(command: list[str], subcommands: list[str]) -> None:
    # In process (the command above proves the entry point): one interpreter per command
    # would cost seconds each on a loaded machine.
    result = CliRunner().invoke(cli_app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert len(result.output) > 100
    # A group's help lists each of its subcommands.
    assert [name for name in subcommands if name not in result.output] == []


def test_version_prints_the_package_version() -> None:
    assert fiscus("version").stdout.strip() == __version__


def test_migrate_is_idempotent(clean_database: str) -> None:
    result = fiscus("migrate", url=clean_database)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stderr


def _count(url: str, table: str = "events") -> int:
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


def _insert_event(url: str, subject: str) -> None:
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(
            "INSERT INTO events (id, tenant_id, type, subject, payload, created_at)"
            " VALUES (gen_random_uuid(), gen_random_uuid(), 'thing.created', %s, '{}', now())",
            (subject,),
        )


@pytest.mark.parametrize("fmt", ["plain", "custom"])
def test_dump_and_restore_round_trip(clean_database: str, tmp_path: Path, fmt: str) -> None:
    _insert_event(clean_database, "kept")
    dump = tmp_path / f"backup.{fmt}"
    made = fiscus("db", "dump", "--format", fmt, "-o", str(dump), url=clean_database)
    assert made.returncode == 0, made.stderr
    assert dump.stat().st_size > 1000

    _insert_event(clean_database, "after-backup")
    assert _count(clean_database) == 2
    restored = fiscus("db", "restore", str(dump), url=clean_database)
    assert restored.returncode == 0, restored.stderr

    with psycopg.connect(libpq_url(clean_database)) as connection:
        subjects = [r[0] for r in connection.execute("SELECT subject FROM events").fetchall()]
        # Row-level security and grants survive the round trip.
        rls = connection.execute(
            "SELECT relrowsecurity FROM pg_class WHERE relname = 'events'"
        ).fetchone()
    assert subjects == ["kept"]
    assert rls == (True,)


def test_plain_dump_goes_to_stdout_by_default(clean_database: str) -> None:
    result = fiscus("db", "dump", url=clean_database)
    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE public.events" in result.stdout


def test_restore_of_a_broken_file_fails_cleanly(clean_database: str, tmp_path: Path) -> None:
    _insert_event(clean_database, "safe")
    broken = tmp_path / "broken.sql"
    broken.write_text("DELETE FROM events;\nTHIS IS NOT SQL;\n")
    result = fiscus("db", "restore", str(broken), url=clean_database)
    assert result.returncode == 1
    assert "Restore failed" in result.stderr
    assert _count(clean_database) == 1  # single transaction: the DELETE was rolled back


def test_db_shell_runs_psql_on_the_database_in_use(clean_database: str) -> None:
    result = fiscus("db", "shell", url=clean_database, stdin="SELECT 'psql-ok';\n")
    assert result.returncode == 0, result.stderr
    assert "psql-ok" in result.stdout


def test_bad_configuration_is_reported_without_a_traceback() -> None:
    env_url = "postgresql://x@127.0.0.1:1/db"
    result = subprocess.run(
        [sys.executable, "-m", "fiscus.cli", "migrate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "FISCUS_DATABASE_URL": env_url, "FISCUS_ENV": "production"},
    )
    assert result.returncode == 2
    assert "FISCUS_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
