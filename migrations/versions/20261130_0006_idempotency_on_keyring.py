"""Idempotency replays onto the key ring: re-seal stored responses, forget fingerprints.

Stored responses were sealed with a key derived from FISCUS_SECRET_KEY alone, so changing
that secret made every replay fail; they are re-sealed with the key ring (bound to tenant
and key, as `IdempotencyStore` writes them). Request fingerprints were HMACs under another
derived key and cannot be recomputed without the request bodies: they are emptied, and
the store then compares method and path only for those rows until they expire (at most
FISCUS_IDEMPOTENCY_TTL_S). Expired rows are deleted rather than converted, and so is a
response no configured root secret opens (a replay cache entry, not data).

A database without rows needs no secret.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection, Row

from fiscus.core.keyring import context_of
from fiscus.core.migrate import (
    legacy_open,
    legacy_seal,
    migration_keyring,
    migration_roots,
    rows_in_batches,
)

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_INFO = b"fiscus/idempotency/responses/v1"
UPDATE = sa.text(
    "UPDATE idempotency_keys SET response_body = :body WHERE tenant_id = :tenant AND key = :key"
)
FORGET = sa.text("DELETE FROM idempotency_keys WHERE tenant_id = :tenant AND key = :key")


def _context(tenant_id: object, key: str) -> bytes:
    return context_of("idempotency_keys.response_body", tenant_id, key)  # type: ignore[arg-type]


def _any_response(connection: Connection) -> bool:
    found = connection.execute(
        sa.text("SELECT 1 FROM idempotency_keys WHERE response_body IS NOT NULL LIMIT 1")
    ).first()
    return found is not None


def _stored_responses(connection: Connection) -> Iterator[list[Row[Any]]]:
    return rows_in_batches(
        connection,
        table="idempotency_keys",
        key=("tenant_id", "key"),
        columns=("response_body",),
        where="response_body IS NOT NULL",
    )


def upgrade() -> None:
    connection = op.get_bind()
    connection.execute(sa.text("DELETE FROM idempotency_keys WHERE expires_at <= now()"))
    connection.execute(sa.text("UPDATE idempotency_keys SET request_hash = ''::bytea"))
    if not _any_response(connection):
        return
    ring, roots = migration_keyring(connection), migration_roots()
    for rows in _stored_responses(connection):
        updates, unreadable = [], []
        for tenant_id, key, sealed in rows:
            body = legacy_open(roots, LEGACY_INFO, bytes(sealed), tenant_id.bytes + key.encode())
            if body is None:
                unreadable.append({"tenant": tenant_id, "key": key})
            else:
                resealed = ring.seal(body, context=_context(tenant_id, key))
                updates.append({"tenant": tenant_id, "key": key, "body": resealed})
        if updates:
            connection.execute(UPDATE, updates)
        if unreadable:
            connection.execute(FORGET, unreadable)


def downgrade() -> None:
    connection = op.get_bind()
    if not _any_response(connection):
        return
    ring, root = migration_keyring(connection), migration_roots()[0]
    for rows in _stored_responses(connection):
        updates = [
            {
                "tenant": tenant_id,
                "key": key,
                "body": legacy_seal(
                    root,
                    LEGACY_INFO,
                    ring.open(bytes(sealed), context=_context(tenant_id, key)),
                    tenant_id.bytes + key.encode(),
                ),
            }
            for tenant_id, key, sealed in rows
        ]
        connection.execute(UPDATE, updates)
