"""Banking: joint accounts (holders, signing rule) and their pending approvals.

Revision ID: 0460
Revises: 0451
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0460"
down_revision: str | Sequence[str] | None = "0451"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLDERS = "banking_account_holders"
APPROVALS = "banking_approvals"
SIGNERS = "banking_approval_signers"


def _account_columns() -> None:
    op.add_column(
        "banking_accounts",
        sa.Column("signing_rule", sa.Text(), server_default="any", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_banking_accounts_signing_rule"),
        "banking_accounts",
        "signing_rule IN ('any', 'all')",
    )
    op.add_column(
        "banking_settings", sa.Column("approval_expiry_days", sa.BigInteger(), nullable=True)
    )
    op.create_check_constraint(
        op.f("ck_banking_settings_approval_expiry_days"),
        "banking_settings",
        "approval_expiry_days BETWEEN 1 AND 90",
    )


def _holders() -> None:
    op.create_table(
        HOLDERS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("nickname", sa.Text(), nullable=True),
        sa.Column("added_by", sa.Uuid(), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "account_id", "customer_id", name="pk_banking_account_holders"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["banking_accounts.tenant_id", "banking_accounts.id"],
            name="fk_banking_account_holders_account",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "customer_id"],
            ["banking_customers.tenant_id", "banking_customers.id"],
            name="fk_banking_account_holders_customer",
        ),
        sa.CheckConstraint(
            "role IN ('owner', 'co_owner', 'viewer')", name="ck_banking_account_holders_role"
        ),
    )
    op.create_index("ix_banking_account_holders_customer", HOLDERS, ["tenant_id", "customer_id"])


def _approvals() -> None:
    op.create_table(
        APPROVALS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_approvals"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "account_id"],
            ["banking_accounts.tenant_id", "banking_accounts.id"],
            name="fk_banking_approvals_account",
        ),
        sa.CheckConstraint("kind IN ('transfer', 'payment')", name="ck_banking_approvals_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'expired')",
            name="ck_banking_approvals_status",
        ),
        sa.CheckConstraint(
            "(status = 'approved') = (result_id IS NOT NULL)", name="ck_banking_approvals_result"
        ),
        sa.CheckConstraint("amount > 0", name="ck_banking_approvals_amount_positive"),
    )
    op.create_index(
        "uq_banking_approvals_tenant_id_kind_idempotency_key",
        APPROVALS,
        ["tenant_id", "kind", "idempotency_key"],
        unique=True,
    )
    op.create_index(
        "ix_banking_approvals_tenant_id_account_id", APPROVALS, ["tenant_id", "account_id"]
    )
    op.create_table(
        SIGNERS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("approval_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "approval_id", "customer_id", name="pk_banking_approval_signers"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "approval_id"],
            [f"{APPROVALS}.tenant_id", f"{APPROVALS}.id"],
            name="fk_banking_approval_signers_approval",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "decision IN ('approved', 'rejected')", name="ck_banking_approval_signers_decision"
        ),
        sa.CheckConstraint(
            "(decision IS NULL) = (decided_at IS NULL)", name="ck_banking_approval_signers_decided"
        ),
    )


def upgrade() -> None:
    _account_columns()
    _holders()
    _approvals()
    for table in (HOLDERS, APPROVALS, SIGNERS):
        op.execute(f"SELECT fiscus_enable_tenant_rls('{table}')")


def downgrade() -> None:
    op.drop_table(SIGNERS)
    op.drop_table(APPROVALS)
    op.drop_table(HOLDERS)
    op.drop_constraint(op.f("ck_banking_settings_approval_expiry_days"), "banking_settings")
    op.drop_column("banking_settings", "approval_expiry_days")
    op.drop_constraint(op.f("ck_banking_accounts_signing_rule"), "banking_accounts")
    op.drop_column("banking_accounts", "signing_rule")
