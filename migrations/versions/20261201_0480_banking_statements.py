"""Banking: monthly statements (the period and its totals; files are generated on demand).

Revision ID: 0480
Revises: 0472
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0480"
down_revision: str | Sequence[str] | None = "0472"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENTS = "banking_statements"


def upgrade() -> None:
    op.create_table(
        STATEMENTS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("opening", sa.BigInteger(), nullable=False),
        sa.Column("money_in", sa.BigInteger(), nullable=False),
        sa.Column("money_out", sa.BigInteger(), nullable=False),
        sa.Column("closing", sa.BigInteger(), nullable=False),
        sa.Column("entry_count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_statements"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["banking_accounts.tenant_id", "banking_accounts.id"],
            name="fk_banking_statements_account",
        ),
        sa.CheckConstraint("period_start <= period_end", name="ck_banking_statements_period"),
        sa.CheckConstraint(
            "money_in >= 0 AND money_out >= 0 AND entry_count >= 0",
            name="ck_banking_statements_totals",
        ),
        sa.CheckConstraint(
            "closing = opening + money_in - money_out", name="ck_banking_statements_closing"
        ),
    )
    op.create_index(
        "uq_banking_statements_account_period",
        STATEMENTS,
        ["tenant_id", "account_id", "period_start"],
        unique=True,
    )
    op.create_index(
        "ix_banking_statements_tenant_id_customer_id", STATEMENTS, ["tenant_id", "customer_id"]
    )
    op.execute(f"SELECT fiscus_enable_tenant_rls('{STATEMENTS}')")


def downgrade() -> None:
    op.drop_table(STATEMENTS)
