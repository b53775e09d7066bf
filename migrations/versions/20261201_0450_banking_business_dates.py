"""Banking: the tenant's business date (`banking_business_dates`).

Revision ID: 0450
Revises: 0443
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0450"
down_revision: str | Sequence[str] | None = "0443"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "banking_business_dates",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_banking_business_dates"),
    )
    op.execute("SELECT fiscus_enable_tenant_rls('banking_business_dates')")


def downgrade() -> None:
    op.drop_table("banking_business_dates")
