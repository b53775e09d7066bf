"""Banking products, settings (IBAN country and bank code), general ledger map, accounts.

Revision ID: 0401
Revises: 0400
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0401"
down_revision: str | Sequence[str] | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("banking_accounts", "banking_ledger_accounts", "banking_settings", "banking_products")


def upgrade() -> None:
    op.create_table(
        "banking_products",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("overdraft_limit", sa.BigInteger(), nullable=False),
        sa.Column("minimum_opening_balance", sa.BigInteger(), nullable=False),
        sa.Column("minimum_balance", sa.BigInteger(), nullable=False),
        sa.Column("allowed_operations", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("terms", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_products"),
        sa.CheckConstraint("type IN ('current', 'savings')", name="ck_banking_products_type"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_banking_products_currency"),
        sa.CheckConstraint(
            "overdraft_limit >= 0 AND minimum_opening_balance >= 0 AND minimum_balance >= 0",
            name="ck_banking_products_amounts_not_negative",
        ),
        sa.CheckConstraint(
            "allowed_operations <@ ARRAY['deposit', 'transfer_in', 'transfer_out']::text[]",
            name="ck_banking_products_allowed_operations",
        ),
    )
    op.create_table(
        "banking_settings",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("iban_country", sa.Text(), nullable=False),
        sa.Column("bank_code", sa.Text(), nullable=False),
        sa.Column("next_account_number", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_banking_settings"),
        sa.CheckConstraint("iban_country ~ '^[A-Z]{2}$'", name="ck_banking_settings_iban_country"),
        sa.CheckConstraint(
            "next_account_number > 0", name="ck_banking_settings_next_account_number"
        ),
    )
    op.create_table(
        "banking_ledger_accounts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("ledger_account_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "currency", "purpose", name="pk_banking_ledger_accounts"
        ),
        sa.CheckConstraint(
            "purpose IN ('settlement', 'fee_income', 'interest_expense', 'fx_position',"
            " 'fx_income', 'suspense')",
            name="ck_banking_ledger_accounts_purpose",
        ),
    )
    op.create_table(
        "banking_accounts",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_account_id", sa.Uuid(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("iban", sa.Text(), nullable=False),
        sa.Column("nickname", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_accounts"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_accounts_customer",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "product_id"],
            ["banking_products.tenant_id", "banking_products.id"],
            name="fk_banking_accounts_product",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'frozen', 'dormant', 'closed')",
            name="ck_banking_accounts_status",
        ),
        sa.CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)", name="ck_banking_accounts_closed_at"
        ),
    )
    op.create_index(
        "uq_banking_accounts_tenant_id_iban", "banking_accounts", ["tenant_id", "iban"], unique=True
    )
    op.create_index(
        "uq_banking_accounts_tenant_id_ledger_account_id",
        "banking_accounts",
        ["tenant_id", "ledger_account_id"],
        unique=True,
    )
    op.create_index(
        "ix_banking_accounts_tenant_id_customer_id",
        "banking_accounts",
        ["tenant_id", "customer_id"],
    )
    for table in TABLES:
        op.execute(f"SELECT fiscus_enable_tenant_rls('{table}')")


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
