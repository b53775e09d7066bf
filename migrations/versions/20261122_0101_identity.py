"""Identity: users, MFA backup codes, sessions, refresh tokens, API keys, login history.

`users` is global (one login identity may belong to several tenants), but row-level
security still narrows it: a tenant-scoped transaction sees and updates only users with a
membership in its tenant. New users are inserted before their membership, so INSERT is
allowed; nothing may DELETE. `fiscus_user_id_by_email` lets the service find an existing
person (to add a membership) without widening what a tenant can read.

Revision ID: 0101
Revises: 0100
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0101"
down_revision: str | Sequence[str] | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
MEMBER_OF_TENANT = (
    "EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = {col}"
    " AND m.tenant_id = fiscus_current_tenant())"
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("totp_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("password_changed_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.CheckConstraint("email = lower(email)", name="ck_users_email_lower"),
        sa.CheckConstraint("status IN ('active', 'disabled')", name="ck_users_status"),
    )
    op.create_table(
        "mfa_backup_codes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("user_id", "code_hash", name="pk_mfa_backup_codes"),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("authenticated_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("mfa", sa.Boolean(), nullable=False),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_auth_sessions"),
    )
    op.create_index("ix_auth_sessions_tenant_id_user_id", "auth_sessions", ["tenant_id", "user_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_refresh_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
    )
    op.create_index(
        "ix_refresh_tokens_tenant_id_session_id", "refresh_tokens", ["tenant_id", "session_id"]
    )
    op.create_table(
        "api_keys",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("last_used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "login_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_login_events"),
    )
    op.create_index(
        "ix_login_events_tenant_id_user_id_id", "login_events", ["tenant_id", "user_id", "id"]
    )
    op.create_table(
        "password_reset_tokens",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_password_reset_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_password_reset_tokens_token_hash"),
    )
    for table in (
        "auth_sessions",
        "refresh_tokens",
        "api_keys",
        "login_events",
        "password_reset_tokens",
    ):
        op.execute(f"SELECT fiscus_enable_tenant_rls('{table}')")
    _user_policies()


def _user_policies() -> None:
    users = MEMBER_OF_TENANT.format(col="users.id")
    codes = MEMBER_OF_TENANT.format(col="mfa_backup_codes.user_id")
    op.execute(
        f"""
        ALTER TABLE users ENABLE ROW LEVEL SECURITY;
        CREATE POLICY users_of_tenant_read ON users FOR SELECT TO fiscus_app USING ({users});
        CREATE POLICY users_of_tenant_update ON users FOR UPDATE TO fiscus_app
          USING ({users}) WITH CHECK ({users});
        CREATE POLICY users_insert ON users FOR INSERT TO fiscus_app WITH CHECK (true);
        ALTER TABLE mfa_backup_codes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY backup_codes_of_tenant ON mfa_backup_codes TO fiscus_app
          USING ({codes}) WITH CHECK ({codes});
        CREATE FUNCTION fiscus_user_id_by_email(address text) RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT id FROM users WHERE email = lower(address) $$;
        """  # noqa: S608 - fixed SQL from the constants above
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS fiscus_user_id_by_email(text)")
    for table in (
        "password_reset_tokens",
        "login_events",
        "api_keys",
        "refresh_tokens",
        "auth_sessions",
        "mfa_backup_codes",
        "users",
    ):
        op.drop_table(table)
