"""Banking customers (personal data sealed, blind indexes) and their portal users.

Revision ID: 0400
Revises: 0307
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0400"
down_revision: str | Sequence[str] | None = "0307"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("banking_customer_users", "banking_customers")


def upgrade() -> None:
    op.create_table(
        "banking_customers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("personal_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("email_hash", sa.LargeBinary(), nullable=False),
        sa.Column("phone_hash", sa.LargeBinary(), nullable=True),
        sa.Column("tax_id_hash", sa.LargeBinary(), nullable=True),
        sa.Column("tax_residence", sa.Text(), nullable=True),
        sa.Column("kyc_status", sa.Text(), nullable=False),
        sa.Column("kyc_reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("kyc_reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("kyc_notes_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("risk_rating", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_customers"),
        sa.CheckConstraint("kind IN ('individual', 'business')", name="ck_banking_customers_kind"),
        sa.CheckConstraint(
            "kyc_status IN ('pending', 'verified', 'rejected')",
            name="ck_banking_customers_kyc_status",
        ),
        sa.CheckConstraint(
            "risk_rating IN ('low', 'medium', 'high')", name="ck_banking_customers_risk_rating"
        ),
        sa.CheckConstraint(
            "tax_residence ~ '^[A-Z]{2}$'", name="ck_banking_customers_tax_residence"
        ),
    )
    for column in ("email_hash", "phone_hash", "tax_id_hash"):
        op.create_index(
            f"ix_banking_customers_tenant_id_{column}", "banking_customers", ["tenant_id", column]
        )
    op.create_table(
        "banking_customer_users",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "customer_id", "user_id", name="pk_banking_customer_users"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_customer_users_customer",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("role IN ('owner', 'viewer')", name="ck_banking_customer_users_role"),
    )
    op.create_index(
        "ix_banking_customer_users_tenant_id_user_id",
        "banking_customer_users",
        ["tenant_id", "user_id"],
    )
    for table in TABLES:
        op.execute(f"SELECT fiscus_enable_tenant_rls('{table}')")


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
