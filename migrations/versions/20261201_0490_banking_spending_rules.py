"""Banking insights: tenant-defined spending categories and categorisation rules.

Revision ID: 0490
Revises: 0480
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0490"
down_revision: str | Sequence[str] | None = "0480"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_spending_categories",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "slug", name="pk_banking_spending_categories"),
        sa.CheckConstraint(
            "slug ~ '^[a-z][a-z0-9_]{0,39}$'", name="ck_banking_spending_categories_slug"
        ),
        sa.CheckConstraint(
            "kind IN ('spending', 'income', 'transfer')",
            name="ck_banking_spending_categories_kind",
        ),
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_spending_categories')")
    op.create_table(
        "banking_spending_rules",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("reference_contains", sa.Text(), nullable=True),
        sa.Column("counterparty_iban", sa.Text(), nullable=True),
        sa.Column("counterparty_name_contains", sa.Text(), nullable=True),
        sa.Column("counterparty_account_id", sa.Uuid(), nullable=True),
        sa.Column("amount_min", sa.BigInteger(), nullable=True),
        sa.Column("amount_max", sa.BigInteger(), nullable=True),
        sa.Column("merchant_codes", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_spending_rules"),
        sa.CheckConstraint(
            "direction IN ('in', 'out', 'any')", name="ck_banking_spending_rules_direction"
        ),
        sa.CheckConstraint(
            "priority BETWEEN 0 AND 1000000", name="ck_banking_spending_rules_priority"
        ),
        sa.CheckConstraint(
            "(amount_min IS NULL OR amount_min >= 0) AND (amount_max IS NULL OR amount_max >= 0)"
            " AND (amount_min IS NULL OR amount_max IS NULL OR amount_min <= amount_max)",
            name="ck_banking_spending_rules_amount_range",
        ),
        # A rule without a condition would swallow every movement.
        sa.CheckConstraint(
            "num_nonnulls(reference_contains, counterparty_iban, counterparty_name_contains,"
            " counterparty_account_id, amount_min, amount_max, merchant_codes) > 0"
            " OR direction <> 'any'",
            name="ck_banking_spending_rules_has_condition",
        ),
    )
    op.create_index(
        "ix_banking_spending_rules_order",
        "banking_spending_rules",
        ["tenant_id", "customer_id", "priority", "id"],
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_spending_rules')")


def downgrade() -> None:
    op.drop_table("banking_spending_rules")
    op.drop_table("banking_spending_categories")
