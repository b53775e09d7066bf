"""Banking outgoing payments, and the `clearing` purpose of the general ledger.

Revision ID: 0441
Revises: 0440
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0441"
down_revision: str | Sequence[str] | None = "0440"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_banking_ledger_accounts_purpose"
PURPOSES = "'settlement', 'fee_income', 'interest_expense', 'fx_position', 'fx_income', 'suspense'"


def _purposes(extra: str) -> None:
    # 0401 created the constraint under a doubled name (the naming convention applied to a
    # full name); both spellings are dropped, and raw SQL keeps the new name as written.
    for name in ("ck_banking_ledger_accounts_ck_banking_ledger_accounts_purpose", CHECK):
        op.execute(f"ALTER TABLE banking_ledger_accounts DROP CONSTRAINT IF EXISTS {name}")
    op.execute(
        f"ALTER TABLE banking_ledger_accounts ADD CONSTRAINT {CHECK}"
        f" CHECK (purpose IN ({PURPOSES}{extra}))"
    )


def upgrade() -> None:
    _purposes(", 'clearing'")
    op.create_table(
        "banking_payments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("from_account_id", sa.Uuid(), nullable=False),
        sa.Column("payee_id", sa.Uuid(), nullable=True),
        sa.Column("creditor_name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("creditor_iban", sa.Text(), nullable=False),
        sa.Column("creditor_bic", sa.Text(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("charges", sa.Text(), nullable=False),
        sa.Column("execute_on", sa.Date(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("screening_hits", sa.BigInteger(), nullable=False),
        sa.Column("ledger_transfer_id", sa.Uuid(), nullable=False),
        sa.Column("closing_transfer_id", sa.Uuid(), nullable=True),
        sa.Column("return_reason_code", sa.Text(), nullable=True),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("initiated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_payments"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "from_account_id"],
            ["banking_accounts.tenant_id", "banking_accounts.id"],
            name="fk_banking_payments_from_account",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "payee_id"],
            ["banking_payees.tenant_id", "banking_payees.id"],
            name="fk_banking_payments_payee",
        ),
        sa.CheckConstraint("amount > 0", name="ck_banking_payments_amount_positive"),
        sa.CheckConstraint("charges IN ('SHA', 'OUR', 'BEN')", name="ck_banking_payments_charges"),
        sa.CheckConstraint(
            "channel IN ('online', 'api', 'branch')", name="ck_banking_payments_channel"
        ),
        sa.CheckConstraint(
            "status IN ('held', 'pending_settlement', 'exported', 'settled', 'returned',"
            " 'rejected')",
            name="ck_banking_payments_status",
        ),
        sa.CheckConstraint(
            "(status = 'returned') = (return_reason_code IS NOT NULL)",
            name="ck_banking_payments_return_reason",
        ),
    )
    op.create_index(
        "uq_banking_payments_tenant_id_idempotency_key",
        "banking_payments",
        ["tenant_id", "idempotency_key"],
        unique=True,
    )
    for column in ("customer_id", "status"):
        op.create_index(
            f"ix_banking_payments_tenant_id_{column}", "banking_payments", ["tenant_id", column]
        )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_payments')")


def downgrade() -> None:
    op.drop_table("banking_payments")
    op.execute("DELETE FROM banking_ledger_accounts WHERE purpose = 'clearing'")
    _purposes("")
