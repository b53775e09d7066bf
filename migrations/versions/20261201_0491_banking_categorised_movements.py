"""Banking insights: the category of each movement on a customer account.

Revision ID: 0491
Revises: 0490
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0491"
down_revision: str | Sequence[str] | None = "0490"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_categorised_movements",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("counterparty_iban", sa.Text(), nullable=True),
        sa.Column("counterparty_account_id", sa.Uuid(), nullable=True),
        sa.Column("merchant_code", sa.Text(), nullable=True),
        sa.Column("categorised_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "account_id", "transfer_id", name="pk_banking_categorised_movements"
        ),
        sa.CheckConstraint(
            "source IN ('rule', 'default', 'manual')",
            name="ck_banking_categorised_movements_source",
        ),
        sa.CheckConstraint("amount <> 0", name="ck_banking_categorised_movements_amount"),
    )
    # The insights report: one account's movements in a date range, summed by category.
    op.create_index(
        "ix_banking_categorised_movements_account",
        "banking_categorised_movements",
        ["tenant_id", "account_id", "booked_on"],
        postgresql_include=["category", "amount"],
    )
    # Budgets: one customer's spending in a category and month.
    op.create_index(
        "ix_banking_categorised_movements_budget",
        "banking_categorised_movements",
        ["tenant_id", "customer_id", "category", "booked_on"],
        postgresql_include=["currency", "amount"],
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_categorised_movements')")


def downgrade() -> None:
    op.drop_table("banking_categorised_movements")
