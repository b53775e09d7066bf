"""Restoring a dump made by `fiscus db dump`, onto this server or a brand-new one.

A dump holds one database; what it needs from the server around it is not in it:

* the tenant role `fiscus_app`, which row-level security policies and grants name (a new
  server does not have it: "role fiscus_app does not exist"). It is created before the
  restore, safely if several restores or migrations create it at the same moment.
* default privileges, which pg_dump writes `FOR ROLE <the role that ran the migrations>`:
  a role the new server may not have. They are left out of the restore and set again for
  the role restoring (the one that will run the next migrations).

While the dump's tables are created, the restoring role's default privileges are switched
off, so that every table gets exactly the privileges the dump lists: otherwise, restoring
over an existing installation would hand the tenant role tables the dump withholds from it
(the key ring's `encryption_keys`).

After the restore, the key ring is opened with the configured root secret: the dump is
useless without the secret of the installation that wrote it, and the operator should hear
that now, not from a failing start.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy import create_engine, pool

from fiscus.core import cluster
from fiscus.core.db import TENANT_ROLE, libpq_url, sqlalchemy_url
from fiscus.core.keyring import KeyRing, KeyRingEmpty, KeyRingError, root_kid

CUSTOM_MAGIC = b"PGDMP"
# pg_dump writes each default-privileges statement on one line of a plain dump, and each
# as one "DEFAULT ACL" entry of a custom archive's table of contents.
_PLAIN_DEFAULT_ACL = re.compile(r"^ALTER DEFAULT PRIVILEGES FOR ROLE ")
_LISTED_DEFAULT_ACL = re.compile(r"^\d+; \d+ \d+ DEFAULT ACL ")
_DEFAULTS = (
    ("TABLES", "SELECT, INSERT, UPDATE, DELETE"),
    ("SEQUENCES", "USAGE, SELECT, UPDATE"),
    ("FUNCTIONS", "EXECUTE"),
)


class RestoreError(Exception):
    """The restore did not complete; the message says what the server answered."""


def tenant_role_ensure(conninfo: str, role: str = TENANT_ROLE) -> None:
    """Create the tenant role if the server lacks it (safe against concurrent creators);
    a login that may not create roles gets a RestoreError saying what to ask for."""
    try:
        cluster.tenant_role_ensure(conninfo, role)
    except cluster.ClusterRoleError as error:
        raise RestoreError(str(error)) from None


def _default_privileges(conninfo: str, *, grant: bool, role: str = TENANT_ROLE) -> None:
    """Grant (or revoke) the tenant role's default privileges on what this login creates."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        for kind, privileges in _DEFAULTS:
            template = (
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {privileges} ON {kind} TO {role}"
                if grant
                else "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON {kind} FROM {role}"
            )
            connection.execute(
                sql.SQL(template).format(
                    privileges=sql.SQL(privileges), kind=sql.SQL(kind), role=sql.Identifier(role)
                )
            )


def _restore_custom(conninfo: str, dump: Path, pg_restore: str, folder: Path) -> None:
    listed = subprocess.run(  # noqa: S603 - our own tool path and file
        [pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        raise RestoreError(listed.stderr.strip()[-2000:])
    entries = [line for line in listed.stdout.splitlines() if not _LISTED_DEFAULT_ACL.match(line)]
    contents = folder / "contents.list"
    contents.write_text("\n".join(entries) + "\n", encoding="utf-8")
    args = [
        pg_restore,
        "--dbname",
        conninfo,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        "--use-list",
        str(contents),
        str(dump),
    ]
    done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RestoreError(done.stderr.strip()[-2000:])


def _restore_plain(conninfo: str, dump: Path, psql: str, folder: Path) -> None:
    errors = folder / "psql.err"
    args = [
        psql,
        "--dbname",
        conninfo,
        "--quiet",
        "--no-psqlrc",
        "--set",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "--file",
        "-",
    ]
    # Streamed line by line, without the default-privilege lines: a dump may be large.
    with errors.open("wb") as stderr, dump.open("rb") as source:
        process = subprocess.Popen(  # noqa: S603 - our own tool path
            args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr
        )
        assert process.stdin is not None
        try:
            for line in source:
                if not _PLAIN_DEFAULT_ACL.match(line.decode("utf-8", "replace")):
                    process.stdin.write(line)
            process.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped at an error; its message is in `errors`
        code = process.wait()
    if code != 0:
        raise RestoreError(errors.read_text(encoding="utf-8", errors="replace").strip()[-2000:])


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What the restore found: whether the configured secret opens the restored keys."""

    keys_open: bool
    message: str


def keyring_check(url: str, roots: list[str]) -> RestoreResult:
    """Open the restored key ring with the configured root secrets (read-only check)."""
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            ring = KeyRing(roots)
            try:
                # Opens and, after a root rotation, re-wraps; a failure rolls back.
                with connection.begin():
                    ring.load_sync(connection, create=False)
            except KeyRingEmpty as error:
                return RestoreResult(True, str(error))
            except KeyRingError as error:
                return RestoreResult(False, str(error))
    finally:
        engine.dispose()
    return RestoreResult(True, f"The keys open with root secret {root_kid(roots[0])}.")


def database_restore(
    url: str, dump: Path, *, psql: str, pg_restore: str, roots: list[str]
) -> RestoreResult:
    """Restore `dump` (plain or custom, from `fiscus db dump`) into the database at `url`,
    replacing its contents, on this server or a brand-new one; then check the keys open."""
    conninfo = libpq_url(url)
    tenant_role_ensure(conninfo)
    with dump.open("rb") as handle:
        custom = handle.read(len(CUSTOM_MAGIC)) == CUSTOM_MAGIC
    _default_privileges(conninfo, grant=False)
    try:
        with tempfile.TemporaryDirectory(prefix="fiscus-restore-") as folder:
            if custom:
                _restore_custom(conninfo, dump, pg_restore, Path(folder))
            else:
                _restore_plain(conninfo, dump, psql, Path(folder))
    finally:
        _default_privileges(conninfo, grant=True)
    return keyring_check(url, roots)
