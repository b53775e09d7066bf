"""Banking: the tenant's exchange-rate table (`banking_fx_rates`).

Revision ID: 0430
Revises: 0420
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0430"
down_revision: str | Sequence[str] | None = "0420"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_fx_rates",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("base", sa.String(3), nullable=False),
        sa.Column("quote", sa.String(3), nullable=False),
        sa.Column("mid", sa.Numeric(24, 12), nullable=False),
        sa.Column("spread", sa.Numeric(8, 6), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_banking_fx_rates"),
        sa.CheckConstraint("base <> quote", name="ck_banking_fx_rates_distinct_currencies"),
        sa.CheckConstraint(
            "base ~ '^[A-Z]{3}$' AND quote ~ '^[A-Z]{3}$'",
            name="ck_banking_fx_rates_currency_codes",
        ),
        sa.CheckConstraint("mid > 0", name="ck_banking_fx_rates_mid_positive"),
        sa.CheckConstraint("spread >= 0 AND spread < 0.2", name="ck_banking_fx_rates_spread_range"),
        sa.CheckConstraint(
            "source = 'manual' OR source LIKE 'provider:%'", name="ck_banking_fx_rates_source_kind"
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "base",
            "quote",
            "source",
            "effective_at",
            name="uq_banking_fx_rates_tenant_id_base_quote_source_effective_at",
        ),
    )
    op.create_index(
        "ix_banking_fx_rates_pair",
        "banking_fx_rates",
        ["tenant_id", "base", "quote", "effective_at"],
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_fx_rates')")


def downgrade() -> None:
    op.drop_table("banking_fx_rates")
