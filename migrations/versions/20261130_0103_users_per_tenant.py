"""Per-tenant accounts: `users` and `mfa_backup_codes` become tenant-owned.

A login identity (email, password, MFA, sessions) now belongs to exactly one tenant; the
same email in two tenants is two unrelated accounts (docs/identity.md). Until now one
`users` row could hold memberships in several tenants, so one tenant's owner could attach
another tenant's person, reset their password and so take over their login everywhere.

Existing data: a user with memberships in N tenants becomes N rows, one per tenant, with
the SAME id in each, so sessions, memberships, API-key creators and audit rows (which
already carry their tenant) keep pointing at the right account and the audit chain is
untouched. Backup codes are copied to each account. A user without any membership could
not log in anywhere and belongs to no tenant: it is deleted with its backup codes.
TOTP secrets sealed with the user id as context are re-sealed per row by 0105.

Row-level security becomes the standard tenant policy, and `fiscus_user_id_by_email`
(a SECURITY DEFINER search across every tenant) is dropped.

Revision ID: 0103
Revises: 0102
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0103"
down_revision: str | Sequence[str] | None = "0102"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_COLUMNS = (
    "id, email, display_name, password_hash, status, totp_secret_sealed, totp_enabled,"
    " totp_last_step, password_changed_at, created_at, updated_at"
)


def upgrade() -> None:
    op.execute(
        """
        DROP FUNCTION IF EXISTS fiscus_user_id_by_email(text);
        DROP POLICY IF EXISTS users_of_tenant_read ON users;
        DROP POLICY IF EXISTS users_of_tenant_update ON users;
        DROP POLICY IF EXISTS users_insert ON users;
        DROP POLICY IF EXISTS backup_codes_of_tenant ON mfa_backup_codes;
        ALTER TABLE users DROP CONSTRAINT pk_users;
        ALTER TABLE users DROP CONSTRAINT uq_users_email;
        ALTER TABLE users ADD COLUMN tenant_id uuid;
        ALTER TABLE mfa_backup_codes DROP CONSTRAINT pk_mfa_backup_codes;
        ALTER TABLE mfa_backup_codes ADD COLUMN tenant_id uuid;
        """
    )
    # One copy per membership, then the tenant-less originals go.
    op.execute(
        f"""
        INSERT INTO users (tenant_id, {USER_COLUMNS})
        SELECT m.tenant_id, {", ".join("u." + c.strip() for c in USER_COLUMNS.split(","))}
        FROM users u JOIN memberships m ON m.user_id = u.id
        WHERE u.tenant_id IS NULL;
        DELETE FROM users WHERE tenant_id IS NULL;
        INSERT INTO mfa_backup_codes (tenant_id, user_id, code_hash, created_at, used_at)
        SELECT u.tenant_id, c.user_id, c.code_hash, c.created_at, c.used_at
        FROM mfa_backup_codes c JOIN users u ON u.id = c.user_id
        WHERE c.tenant_id IS NULL;
        DELETE FROM mfa_backup_codes WHERE tenant_id IS NULL;
        """  # noqa: S608 - fixed column list above
    )
    op.execute(
        """
        ALTER TABLE users ALTER COLUMN tenant_id SET NOT NULL;
        ALTER TABLE users ADD CONSTRAINT pk_users PRIMARY KEY (tenant_id, id);
        ALTER TABLE users ADD CONSTRAINT uq_users_tenant_id_email UNIQUE (tenant_id, email);
        ALTER TABLE mfa_backup_codes ALTER COLUMN tenant_id SET NOT NULL;
        ALTER TABLE mfa_backup_codes ADD CONSTRAINT pk_mfa_backup_codes
          PRIMARY KEY (tenant_id, user_id, code_hash);
        SELECT fiscus_enable_tenant_rls('users');
        SELECT fiscus_enable_tenant_rls('mfa_backup_codes');
        """
    )


def downgrade() -> None:
    # Accounts are merged back into one row per id: the copy in the tenant with the lowest
    # id (UUIDv7: the oldest tenant) wins, since copies may have diverged and a global
    # login holds one password. Two unrelated accounts with one email in two tenants
    # cannot be represented by the old shape: uq_users_email then refuses the downgrade.
    op.execute(
        """
        DROP POLICY IF EXISTS tenant_isolation ON users;
        DROP POLICY IF EXISTS tenant_isolation ON mfa_backup_codes;
        ALTER TABLE users DROP CONSTRAINT uq_users_tenant_id_email;
        ALTER TABLE users DROP CONSTRAINT pk_users;
        ALTER TABLE mfa_backup_codes DROP CONSTRAINT pk_mfa_backup_codes;
        DELETE FROM users u USING users keep
          WHERE keep.id = u.id AND (keep.created_at, keep.tenant_id) < (u.created_at, u.tenant_id);
        DELETE FROM mfa_backup_codes c
          WHERE NOT EXISTS (SELECT 1 FROM users u
                            WHERE u.id = c.user_id AND u.tenant_id = c.tenant_id);
        ALTER TABLE users DROP COLUMN tenant_id;
        ALTER TABLE mfa_backup_codes DROP COLUMN tenant_id;
        ALTER TABLE users ADD CONSTRAINT pk_users PRIMARY KEY (id);
        ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE (email);
        ALTER TABLE mfa_backup_codes ADD CONSTRAINT pk_mfa_backup_codes
          PRIMARY KEY (user_id, code_hash);
        """
    )
    op.execute(
        """
        CREATE POLICY users_of_tenant_read ON users FOR SELECT TO fiscus_app USING (
          EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id
                  AND m.tenant_id = fiscus_current_tenant()));
        CREATE POLICY users_of_tenant_update ON users FOR UPDATE TO fiscus_app
          USING (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id
                         AND m.tenant_id = fiscus_current_tenant()))
          WITH CHECK (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id
                              AND m.tenant_id = fiscus_current_tenant()));
        CREATE POLICY users_insert ON users FOR INSERT TO fiscus_app WITH CHECK (true);
        CREATE POLICY backup_codes_of_tenant ON mfa_backup_codes TO fiscus_app
          USING (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = mfa_backup_codes.user_id
                         AND m.tenant_id = fiscus_current_tenant()))
          WITH CHECK (EXISTS (SELECT 1 FROM memberships m
                              WHERE m.user_id = mfa_backup_codes.user_id
                              AND m.tenant_id = fiscus_current_tenant()));
        CREATE FUNCTION fiscus_user_id_by_email(address text) RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT id FROM users WHERE email = lower(address) $$;
        """
    )
