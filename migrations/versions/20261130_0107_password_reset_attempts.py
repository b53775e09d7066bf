"""Password-reset tokens count their attempts.

A reset token of an account with MFA on used to accept any number of wrong codes. Each
wrong code now counts on the token (it stops working after a few) and on the account's
second-factor failures (the login lockout).

Revision ID: 0107
Revises: 0106
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0107"
down_revision: str | Sequence[str] | None = "0106"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "password_reset_tokens",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index(
        "ix_password_reset_tokens_tenant_id_user_id",
        "password_reset_tokens",
        ["tenant_id", "user_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_password_reset_tokens_tenant_id_user_id", "password_reset_tokens")
    op.drop_column("password_reset_tokens", "attempts")
