"""Banking incoming credits from other banks (camt.054 or the API), once per reference.

Revision ID: 0443
Revises: 0442
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0443"
down_revision: str | Sequence[str] | None = "0442"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_incoming_credits",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("bank_reference", sa.Text(), nullable=False),
        sa.Column("end_to_end_id", sa.Text(), nullable=True),
        sa.Column("creditor_iban", sa.Text(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("booked_to", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("remittance", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_incoming_credits"),
        sa.CheckConstraint("amount > 0", name="ck_banking_incoming_credits_amount_positive"),
        sa.CheckConstraint(
            "booked_to IN ('account', 'suspense')", name="ck_banking_incoming_credits_booked_to"
        ),
        sa.CheckConstraint(
            "(booked_to = 'account') = (account_id IS NOT NULL)",
            name="ck_banking_incoming_credits_account",
        ),
    )
    op.create_index(
        "uq_banking_incoming_credits_tenant_id_bank_reference",
        "banking_incoming_credits",
        ["tenant_id", "bank_reference"],
        unique=True,
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_incoming_credits')")


def downgrade() -> None:
    op.drop_table("banking_incoming_credits")
