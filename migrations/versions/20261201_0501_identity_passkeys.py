"""Identity: passkeys (WebAuthn credentials) and their ceremonies' challenges.

Revision ID: 0501
Revises: 0500
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0501"
down_revision: str | Sequence[str] | None = "0500"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "passkeys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_passkeys"),
        sa.UniqueConstraint("tenant_id", "credential_id", name="uq_passkeys_credential"),
    )
    op.create_index("ix_passkeys_tenant_id_user_id", "passkeys", ["tenant_id", "user_id"])
    op.create_table(
        "webauthn_challenges",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("challenge_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webauthn_challenges"),
        sa.UniqueConstraint("challenge_hash", name="uq_webauthn_challenges_challenge_hash"),
        sa.CheckConstraint(
            "purpose IN ('register', 'second_factor', 'login')",
            name="ck_webauthn_challenges_purpose",
        ),
    )
    for table in ("passkeys", "webauthn_challenges"):
        op.execute(f"SELECT fiscus_enable_tenant_rls('{table}')")


def downgrade() -> None:
    op.drop_table("webauthn_challenges")
    op.drop_table("passkeys")
