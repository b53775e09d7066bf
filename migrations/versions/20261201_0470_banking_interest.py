"""Banking interest: rate history, daily accruals, postings; the `interest_income` and
`tax_payable` purposes of the general ledger.

Revision ID: 0470
Revises: 0461
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0470"
down_revision: str | Sequence[str] | None = "0461"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECK = "ck_banking_ledger_accounts_purpose"
PURPOSES = (
    "'settlement', 'fee_income', 'interest_expense', 'fx_position', 'fx_income', 'suspense',"
    " 'clearing'"
)
RATES = "banking_interest_rates"
ACCRUALS = "banking_interest_accruals"
POSTINGS = "banking_interest_postings"
RATE = sa.Numeric(20, 12)
EXACT = sa.Numeric(50, 20)


def _purposes(extra: str) -> None:
    op.execute(f"ALTER TABLE banking_ledger_accounts DROP CONSTRAINT IF EXISTS {CHECK}")
    op.execute(
        f"ALTER TABLE banking_ledger_accounts ADD CONSTRAINT {CHECK}"
        f" CHECK (purpose IN ({PURPOSES}{extra}))"
    )


def _rates() -> None:
    op.create_table(
        RATES,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("rate", RATE, nullable=True),
        sa.Column("tiers", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("overdraft_rate", RATE, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_interest_rates"),
        sa.CheckConstraint(
            "(rate IS NULL) <> (tiers IS NULL)", name="ck_banking_interest_rates_rate_or_tiers"
        ),
        sa.CheckConstraint(
            "rate IS NULL OR (rate >= 0 AND rate <= 1)",
            name="ck_banking_interest_rates_rate_range",
        ),
        sa.CheckConstraint(
            "overdraft_rate >= 0 AND overdraft_rate <= 1",
            name="ck_banking_interest_rates_overdraft_range",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "product_id",
            "effective_from",
            name="uq_banking_interest_rates_tenant_id_product_id_effective_from",
        ),
    )


def _accruals() -> None:
    op.create_table(
        ACCRUALS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("accrual_date", sa.Date(), nullable=False),
        sa.Column("balance", EXACT, nullable=False),
        sa.Column("basis", EXACT, nullable=False),
        sa.Column("rate", RATE, nullable=False),
        sa.Column("fraction", sa.Numeric(40, 30), nullable=False),
        sa.Column("amount", EXACT, nullable=False),
        sa.Column("posting_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "account_id", "accrual_date", name="pk_banking_interest_accruals"
        ),
    )
    op.create_index(
        "ix_banking_interest_accruals_unposted",
        ACCRUALS,
        ["tenant_id", "account_id"],
        postgresql_where=sa.text("posting_id IS NULL"),
    )


def _postings() -> None:
    op.create_table(
        POSTINGS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("credit_exact", EXACT, nullable=False),
        sa.Column("credit_gross", sa.BigInteger(), nullable=False),
        sa.Column("credit_residue", EXACT, nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("overdraft_exact", EXACT, nullable=False),
        sa.Column("overdraft_amount", sa.BigInteger(), nullable=False),
        sa.Column("overdraft_residue", EXACT, nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_interest_postings"),
        sa.CheckConstraint(
            "credit_gross >= 0 AND overdraft_amount >= 0 AND tax >= 0 AND tax <= credit_gross",
            name="ck_banking_interest_postings_amounts",
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "account_id",
            "period_end",
            name="uq_banking_interest_postings_tenant_id_account_id_period_end",
        ),
    )


def upgrade() -> None:
    _purposes(", 'interest_income', 'tax_payable'")
    _rates()
    _accruals()
    _postings()
    for table in (RATES, ACCRUALS, POSTINGS):
        op.execute(f"SELECT fiscus_enable_tenant_rls('{table}')")


def downgrade() -> None:
    for table in (POSTINGS, ACCRUALS, RATES):
        op.drop_table(table)
    op.execute(
        "DELETE FROM banking_ledger_accounts WHERE purpose IN ('interest_income', 'tax_payable')"
    )
    _purposes("")
