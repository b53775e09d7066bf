"""Banking pain.001 export batches, and each payment's batch.

Revision ID: 0442
Revises: 0441
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0442"
down_revision: str | Sequence[str] | None = "0441"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_payment_exports",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("document_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("payment_count", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_payment_exports"),
        sa.CheckConstraint(
            "payment_count > 0", name="ck_banking_payment_exports_payment_count_positive"
        ),
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_payment_exports')")
    op.add_column("banking_payments", sa.Column("export_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column("banking_payments", "export_id")
    op.drop_table("banking_payment_exports")
