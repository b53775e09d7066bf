"""Tenant isolation in the database: the `fiscus_app` role and row-level security.

A unit of work that acts for a tenant switches to the `fiscus_app` role and sets
`fiscus.tenant_id` for its transaction; every tenant-owned table has a policy that shows
that role only rows of that tenant, even when a query forgets its filter. Work that spans
tenants (migrations, the outbox relay, verifiers) runs as the login role, which owns the
tables and so is not subject to the policies (RLS is enabled, not forced).

New tenant-owned tables call `SELECT fiscus_enable_tenant_rls('table_name')` in their
migration.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

from fiscus.core.cluster import tenant_role_statement

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The role is cluster-wide: migrations/env.py has already created it in a committed
    # transaction of its own (tenant_role_ensure), so this finds it; the statement also
    # tolerates a concurrent creator when run without env.py's step. The login role must be
    # a member to SET ROLE; a superuser already may.
    driver = op.get_bind().connection.driver_connection
    driver.execute(tenant_role_statement())
    op.execute("GRANT USAGE ON SCHEMA public TO fiscus_app")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO fiscus_app")
    op.execute("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO fiscus_app")
    op.execute("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO fiscus_app")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO fiscus_app"
    )
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO fiscus_app"
    )
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO fiscus_app")
    op.execute(
        """
        CREATE FUNCTION fiscus_current_tenant() RETURNS uuid
        LANGUAGE sql STABLE PARALLEL SAFE AS
        $$ SELECT nullif(current_setting('fiscus.tenant_id', true), '')::uuid $$;

        CREATE FUNCTION fiscus_enable_tenant_rls(target regclass) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
          EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
          EXECUTE format(
            'CREATE POLICY tenant_isolation ON %s TO fiscus_app '
            'USING (tenant_id = fiscus_current_tenant()) '
            'WITH CHECK (tenant_id = fiscus_current_tenant())', target);
        END $$;
        """
    )
    op.execute("SELECT fiscus_enable_tenant_rls('idempotency_keys')")
    op.execute("SELECT fiscus_enable_tenant_rls('events')")


def downgrade() -> None:
    for table in ("events", "idempotency_keys"):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS fiscus_enable_tenant_rls(regclass)")
    op.execute("DROP FUNCTION IF EXISTS fiscus_current_tenant()")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM fiscus_app")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM fiscus_app")
    op.execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON FUNCTIONS FROM fiscus_app")
    op.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM fiscus_app")
    op.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM fiscus_app")
    op.execute("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM fiscus_app")
    op.execute("REVOKE USAGE ON SCHEMA public FROM fiscus_app")
    # The role is cluster-wide and may serve other databases; it is left in place.
