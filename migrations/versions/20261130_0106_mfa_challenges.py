"""MFA challenges as server-side rows: spent by their first success, attempts counted.

The second login step used to take a signed JWT that said "password checked": nothing
recorded that it had been used, so one challenge with two backup codes opened two
sessions. A challenge is now an opaque token (`fsm_...`, stored as its SHA-256) with a
row that the first successful code marks used, in the same transaction that opens the
session; `attempts` counts wrong codes on this challenge (a small cap of its own, on top
of the per-account lockout).

Revision ID: 0106
Revises: 0105
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0106"
down_revision: str | Sequence[str] | None = "0105"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mfa_challenges",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_mfa_challenges"),
        sa.UniqueConstraint("token_hash", name="uq_mfa_challenges_token_hash"),
    )
    op.create_index(
        "ix_mfa_challenges_tenant_id_user_id", "mfa_challenges", ["tenant_id", "user_id"]
    )
    op.execute("SELECT fiscus_enable_tenant_rls('mfa_challenges')")


def downgrade() -> None:
    op.drop_table("mfa_challenges")
