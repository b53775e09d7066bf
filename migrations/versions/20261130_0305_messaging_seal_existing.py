"""Messaging personal data, step 2 of 3: seal the existing rows with the key ring.

Every message's subject, text and HTML (together, as JSON), address and last error, every
status-history note and every message-profile phone number are sealed into the columns
0304 added, bound to their row exactly as `messaging/_sealing.py` binds them. The
plaintext columns are dropped by 0306. A database without messages needs no secret.

Revision ID: 0305
Revises: 0304
Create Date: 2026-11-30
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from fiscus.core.keyring import KeyRing, context_of
from fiscus.core.migrate import migration_keyring, rows_in_batches

revision: str = "0305"
down_revision: str | Sequence[str] | None = "0304"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, key columns, {plaintext column: sealed column}) for the one-to-one columns;
# message content (three plaintext columns into one sealed JSON) is handled on its own.
SIMPLE = (
    ("message_profiles", ("tenant_id", "user_id"), {"phone": "phone_sealed"}),
    (
        "messages",
        ("tenant_id", "id"),
        {"address": "address_sealed", "last_error": "last_error_sealed"},
    ),
    ("message_status_changes", ("tenant_id", "id"), {"detail": "detail_sealed"}),
)
CONTENT = ("subject", "body_text", "body_html")
Key = tuple[Any, ...]
Transform = Callable[[Key, tuple[Any, ...]], tuple[Any, ...]]


def _seal(ring: KeyRing, name: str, key: Key, value: str | None) -> bytes | None:
    if value is None:
        return None
    return ring.seal_text(value, context=context_of(name, *key))


def _open(ring: KeyRing, name: str, key: Key, sealed: Any) -> str | None:
    if sealed is None:
        return None
    return ring.open_text(bytes(sealed), context=context_of(name, *key))


def _rewrite(
    table: str, key: Sequence[str], read: Sequence[str], write: Sequence[str], fn: Transform
) -> None:
    """For every row: `write` columns = fn(key values, `read` column values), in batches."""
    connection = op.get_bind()
    sets = ", ".join(f"{column} = :w{i}" for i, column in enumerate(write))
    where = " AND ".join(f"{name} = :k{i}" for i, name in enumerate(key))
    update = sa.text(f"UPDATE {table} SET {sets} WHERE {where}")  # noqa: S608 - constants
    for rows in rows_in_batches(connection, table=table, key=key, columns=read):
        params = []
        for row in rows:
            ids = tuple(row[: len(key)])
            item = {f"k{i}": value for i, value in enumerate(ids)}
            item |= {f"w{i}": value for i, value in enumerate(fn(ids, tuple(row[len(key) :])))}
            params.append(item)
        connection.execute(update, params)


def _has_rows() -> bool:
    connection = op.get_bind()
    return any(
        connection.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()  # noqa: S608
        is not None
        for table in ("messages", "message_profiles", "message_status_changes")
    )


def _names(table: str, pairs: dict[str, str]) -> list[str]:
    return [f"{table}.{sealed}" for sealed in pairs.values()]


def upgrade() -> None:
    if not _has_rows():
        return
    ring = migration_keyring(op.get_bind())

    def content(ids: Key, values: tuple[Any, ...]) -> tuple[Any, ...]:
        subject, text, html = values
        plain = json.dumps({"subject": subject, "text": text or "", "html": html})
        return (_seal(ring, "messages.content_sealed", ids, plain),)

    _rewrite("messages", ("tenant_id", "id"), CONTENT, ("content_sealed",), content)
    for table, key, pairs in SIMPLE:
        names = _names(table, pairs)

        def seal(ids: Key, values: tuple[Any, ...], names: list[str] = names) -> tuple[Any, ...]:
            return tuple(_seal(ring, n, ids, v) for n, v in zip(names, values, strict=True))

        _rewrite(table, key, tuple(pairs), tuple(pairs.values()), seal)


def downgrade() -> None:
    if not _has_rows():
        return
    ring = migration_keyring(op.get_bind())

    def content(ids: Key, values: tuple[Any, ...]) -> tuple[Any, ...]:
        opened = json.loads(_open(ring, "messages.content_sealed", ids, values[0]) or "{}")
        return opened.get("subject"), opened.get("text", ""), opened.get("html")

    _rewrite("messages", ("tenant_id", "id"), ("content_sealed",), CONTENT, content)
    for table, key, pairs in SIMPLE:
        names = _names(table, pairs)

        def unseal(ids: Key, values: tuple[Any, ...], names: list[str] = names) -> tuple[Any, ...]:
            return tuple(_open(ring, n, ids, v) for n, v in zip(names, values, strict=True))

        _rewrite(table, key, tuple(pairs.values()), tuple(pairs), unseal)
