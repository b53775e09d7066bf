"""Identity: second factors by email and SMS code (enrolled addresses, one live code each).

Revision ID: 0500
Revises: 0492
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0500"
down_revision: str | Sequence[str] | None = "0492"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACTORS = "mfa_factors"


def upgrade() -> None:
    op.create_table(
        FACTORS,
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("address_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_hash", sa.LargeBinary(), nullable=True),
        sa.Column("code_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_mfa_factors"),
        sa.CheckConstraint("kind IN ('email', 'sms')", name="ck_mfa_factors_kind"),
        sa.CheckConstraint("code_attempts >= 0", name="ck_mfa_factors_code_attempts"),
        sa.UniqueConstraint("tenant_id", "user_id", "kind", name="uq_mfa_factors_user_kind"),
    )
    op.execute(f"SELECT fiscus_enable_tenant_rls('{FACTORS}')")


def downgrade() -> None:
    op.drop_table(FACTORS)
