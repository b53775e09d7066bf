"""Webhook signing secrets onto the key ring.

They were sealed with a key derived from FISCUS_SECRET_KEY alone, so changing that secret
made every endpoint's secret unreadable (and every delivery fail). Each is re-sealed with
the key ring, bound to its tenant, endpoint and row, as `webhooks._signing` writes them.
A secret that no configured root secret opens stops the migration with the endpoints it
belongs to: configure the secret it was written with (FISCUS_PREVIOUS_SECRET_KEYS), or
delete those endpoints; the migration never drops a secret it cannot read.

A database without endpoints needs no secret.

Revision ID: 0303
Revises: 0302
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from fiscus.core.keyring import context_of
from fiscus.core.migrate import (
    legacy_open,
    legacy_seal,
    migration_keyring,
    migration_roots,
    rows_in_batches,
)

revision: str = "0303"
down_revision: str | Sequence[str] | None = "0302"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0005"

LEGACY_INFO = b"fiscus/webhooks/secrets/v1"
KEY = ("tenant_id", "endpoint_id", "id")


# As `fiscus.webhooks.models.secret_context` binds each secret to its row.
def secret_context(tenant_id: object, endpoint_id: object, secret_id: object) -> bytes:
    return context_of("webhook_secrets.sealed_secret", tenant_id, endpoint_id, secret_id)  # type: ignore[arg-type]


UPDATE = sa.text(
    "UPDATE webhook_secrets SET sealed_secret = :sealed"
    " WHERE tenant_id = :tenant AND endpoint_id = :endpoint AND id = :id"
)


def _any_rows() -> bool:
    found = op.get_bind().execute(sa.text("SELECT 1 FROM webhook_secrets LIMIT 1")).first()
    return found is not None


def upgrade() -> None:
    if not _any_rows():
        return
    connection = op.get_bind()
    ring, roots = migration_keyring(connection), migration_roots()
    unreadable: list[str] = []
    for rows in rows_in_batches(
        connection, table="webhook_secrets", key=KEY, columns=("sealed_secret",)
    ):
        updates = []
        for tenant_id, endpoint_id, secret_id, sealed in rows:
            secret = legacy_open(roots, LEGACY_INFO, bytes(sealed), endpoint_id.bytes)
            if secret is None:
                unreadable.append(str(endpoint_id))
                continue
            context = secret_context(tenant_id, endpoint_id, secret_id)
            updates.append(
                {
                    "tenant": tenant_id,
                    "endpoint": endpoint_id,
                    "id": secret_id,
                    "sealed": ring.seal(secret, context=context),
                }
            )
        if updates:
            connection.execute(UPDATE, updates)
    if unreadable:
        raise RuntimeError(
            f"{len(unreadable)} webhook signing secret(s) do not open with FISCUS_SECRET_KEY or"
            " FISCUS_PREVIOUS_SECRET_KEYS (endpoints "
            + ", ".join(sorted(set(unreadable))[:20])
            + "). Configure the secret they were written with, or delete those endpoints,"
            " then migrate again."
        )


def downgrade() -> None:
    if not _any_rows():
        return
    connection = op.get_bind()
    ring, root = migration_keyring(connection), migration_roots()[0]
    for rows in rows_in_batches(
        connection, table="webhook_secrets", key=KEY, columns=("sealed_secret",)
    ):
        connection.execute(
            UPDATE,
            [
                {
                    "tenant": tenant_id,
                    "endpoint": endpoint_id,
                    "id": secret_id,
                    "sealed": legacy_seal(
                        root,
                        LEGACY_INFO,
                        ring.open(
                            bytes(sealed), context=secret_context(tenant_id, endpoint_id, secret_id)
                        ),
                        endpoint_id.bytes,
                    ),
                }
                for tenant_id, endpoint_id, secret_id, sealed in rows
            ],
        )
