"""Banking payees: the outside accounts a customer pays (name sealed).

Revision ID: 0440
Revises: 0432
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0440"
down_revision: str | Sequence[str] | None = "0432"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_payees",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("iban", sa.Text(), nullable=False),
        sa.Column("bic", sa.Text(), nullable=True),
        sa.Column("nickname", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_payees"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_payees_customer",
        ),
    )
    op.create_index(
        "ix_banking_payees_tenant_id_customer_id", "banking_payees", ["tenant_id", "customer_id"]
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_payees')")


def downgrade() -> None:
    op.drop_table("banking_payees")
