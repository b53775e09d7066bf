"""The key ring's table: data and index keys, each wrapped by the root secret.

Only the login role (system work) reads it; the tenant role `fiscus_app` has no access,
so no tenant-scoped statement, however it is built, can read a wrapped key.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "encryption_keys",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_by", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_encryption_keys"),
        sa.CheckConstraint("purpose IN ('data', 'index')", name="ck_encryption_keys_purpose"),
        sa.CheckConstraint("id ~ '^[0-9a-f]{8}$'", name="ck_encryption_keys_id_format"),
    )
    # One index key, ever: replacing it would orphan every stored look-up hash.
    op.create_index(
        "uq_encryption_keys_index",
        "encryption_keys",
        ["purpose"],
        unique=True,
        postgresql_where=sa.text("purpose = 'index'"),
    )
    op.execute("REVOKE ALL ON encryption_keys FROM fiscus_app")


def downgrade() -> None:
    op.drop_table("encryption_keys")
