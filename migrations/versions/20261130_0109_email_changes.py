"""Pending email changes: confirmed by a token mailed to the new address.

`POST /v1/me/email` answers the same whether or not the address is in use; when it is
free, a row here holds the new address (sealed with the key ring, with its look-up hash)
and the SHA-256 of the token mailed to it, and the change happens on confirmation.

Revision ID: 0109
Revises: 0108
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0109"
down_revision: str | Sequence[str] | None = "0108"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "email_changes",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("email_hash", sa.LargeBinary(), nullable=False),
        sa.Column("email_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_email_changes"),
        sa.UniqueConstraint("token_hash", name="uq_email_changes_token_hash"),
    )
    op.create_index("ix_email_changes_tenant_id_user_id", "email_changes", ["tenant_id", "user_id"])
    op.execute("SELECT fiscus_enable_tenant_rls('email_changes')")


def downgrade() -> None:
    op.drop_table("email_changes")
