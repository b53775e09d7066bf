"""Banking: standing orders and scheduled transfers, and their executions.

Revision ID: 0451
Revises: 0450
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0451"
down_revision: str | Sequence[str] | None = "0450"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ORDERS = "banking_standing_orders"
EXECUTIONS = "banking_standing_order_executions"


def _orders() -> None:
    op.create_table(
        ORDERS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("from_account_id", sa.Uuid(), nullable=False),
        sa.Column("to_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("frequency", sa.Text(), nullable=False),
        sa.Column("day_of_month", sa.Text(), nullable=True),
        sa.Column("weekday", sa.BigInteger(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=True),
        sa.Column("retry_attempts", sa.BigInteger(), nullable=False),
        sa.Column("retry_every_minutes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("next_due_date", sa.Date(), nullable=True),
        sa.Column("executed_count", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_standing_orders"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_standing_orders_customer",
        ),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'cancelled', 'completed')",
            name="ck_banking_standing_orders_status",
        ),
        sa.CheckConstraint(
            "frequency IN ('daily', 'weekly', 'monthly', 'yearly')",
            name="ck_banking_standing_orders_frequency",
        ),
        sa.CheckConstraint("amount > 0", name="ck_banking_standing_orders_amount_positive"),
        sa.CheckConstraint(
            "from_account_id <> to_account_id", name="ck_banking_standing_orders_distinct_accounts"
        ),
        sa.CheckConstraint("executed_count >= 0", name="ck_banking_standing_orders_executed_count"),
        sa.CheckConstraint(
            "retry_attempts BETWEEN 0 AND 10 AND retry_every_minutes BETWEEN 1 AND 720",
            name="ck_banking_standing_orders_retry_policy",
        ),
        sa.CheckConstraint(
            "(status IN ('active', 'paused')) = (next_due_date IS NOT NULL)",
            name="ck_banking_standing_orders_next_due_date",
        ),
    )
    op.create_index(
        "ix_banking_standing_orders_due",
        ORDERS,
        ["tenant_id", "next_due_date"],
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_banking_standing_orders_tenant_id_customer_id", ORDERS, ["tenant_id", "customer_id"]
    )


def _executions() -> None:
    op.create_table(
        EXECUTIONS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_standing_order_executions"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "order_id"],
            [f"{ORDERS}.tenant_id", f"{ORDERS}.id"],
            name="fk_banking_standing_order_executions_order",
        ),
        sa.CheckConstraint(
            "status IN ('paid', 'retrying', 'failed')",
            name="ck_banking_standing_order_executions_status",
        ),
        sa.CheckConstraint(
            "(status = 'paid') = (transfer_id IS NOT NULL)",
            name="ck_banking_standing_order_executions_paid_transfer",
        ),
        sa.CheckConstraint("attempts >= 1", name="ck_banking_standing_order_executions_attempts"),
    )
    op.create_index(
        "uq_banking_standing_order_executions_occurrence",
        EXECUTIONS,
        ["tenant_id", "order_id", "due_date"],
        unique=True,
    )


def upgrade() -> None:
    _orders()
    _executions()
    for table in (ORDERS, EXECUTIONS):
        op.execute(f"SELECT fiscus_enable_tenant_rls('{table}')")


def downgrade() -> None:
    op.drop_table(EXECUTIONS)
    op.drop_table(ORDERS)
