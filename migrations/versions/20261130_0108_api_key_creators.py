"""API keys record the key that minted them; keys minted by keys get their person.

A key is capped, at every authentication, to what its creator (a person) may do now, and
suspended while that person is disabled (docs/identity.md). A key minted by another key
used to record no creator at all, so it escaped that rule: now it records the minting key
(`created_by_key_id`) and inherits that key's person (`created_by`).

Existing keys: the minting key is recovered from the audit trail (`api_key.created` rows
name the API key that acted), and the person is inherited along the chain.

Revision ID: 0108
Revises: 0107
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0108"
down_revision: str | Sequence[str] | None = "0107"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Longer chains of keys minting keys than this are not expected; the loop stops anyway.
MAX_CHAIN = 50


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("created_by_key_id", sa.Uuid(), nullable=True))
    op.execute(
        """
        UPDATE api_keys k SET created_by_key_id = a.api_key_id
        FROM audit_events a
        WHERE k.created_by IS NULL AND a.tenant_id = k.tenant_id
          AND a.action = 'api_key.created' AND a.object_id = k.id::text
          AND a.api_key_id IS NOT NULL
        """
    )
    connection = op.get_bind()
    for _ in range(MAX_CHAIN):
        inherited = connection.execute(
            sa.text(
                """
                UPDATE api_keys k SET created_by = parent.created_by
                FROM api_keys parent
                WHERE k.created_by IS NULL AND parent.tenant_id = k.tenant_id
                  AND parent.id = k.created_by_key_id AND parent.created_by IS NOT NULL
                """
            )
        )
        if not inherited.rowcount:
            break


def downgrade() -> None:
    op.drop_column("api_keys", "created_by_key_id")
