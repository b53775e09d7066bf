"""The ledger's PL/pgSQL, one file per function and version: `<function>.v<N>.sql`.

A file is never edited once a migration loads it: a change is a new version file and a
new migration that loads it, pinning the file's SHA-256. The migration refuses a file
whose content differs from its pin, so history cannot change silently, and
`tests/ledger/test_sql_files.py` checks that the database runs the newest version of
every function.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

SQL_DIR = Path(__file__).parent
_NAME = re.compile(r"^(?P<function>\w+)\.v(?P<version>\d+)\.sql$")


class SqlFileChanged(RuntimeError):
    """A versioned SQL file no longer has the content its migration pinned."""


def sql_load(name: str, *, sha256: str) -> str:
    """The text of `name` (e.g. `ledger_post.v2.sql`), refused unless it hashes to `sha256`."""
    text = (SQL_DIR / name).read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if digest != sha256:
        raise SqlFileChanged(
            f"{name} has SHA-256 {digest}, its migration pinned {sha256}: add a new version"
            " file and a migration that loads it instead of editing a loaded one."
        )
    return text


def sql_current() -> dict[str, Path]:
    """The newest version file of every function, by function name."""
    newest: dict[str, tuple[int, Path]] = {}
    for path in SQL_DIR.glob("*.sql"):
        match = _NAME.match(path.name)
        assert match is not None, f"{path.name} is not named <function>.v<N>.sql"
        version = int(match["version"])
        if match["function"] not in newest or newest[match["function"]][0] < version:
            newest[match["function"]] = (version, path)
    return {function: path for function, (_, path) in newest.items()}
