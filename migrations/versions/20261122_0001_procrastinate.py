"""Job queue: procrastinate's schema (tables, functions, triggers) in our database.

The SQL comes from the locked procrastinate version; an upgrade of procrastinate that
changes its schema gets its own revision applying procrastinate's migration files.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op
from procrastinate.schema import SchemaManager

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Raw psycopg: the schema contains % and : that SQLAlchemy's text() would interpret.
    driver = op.get_bind().connection.driver_connection
    driver.execute(SchemaManager.get_schema())


def downgrade() -> None:
    op.execute(
        """
        DO $$ DECLARE r record; BEGIN
          FOR r IN SELECT tablename FROM pg_tables
                   WHERE schemaname = 'public' AND tablename LIKE 'procrastinate%' LOOP
            EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', r.tablename);
          END LOOP;
          FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate%' LOOP
            EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', r.sig);
          END LOOP;
          FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                   WHERE n.nspname = 'public' AND t.typname LIKE 'procrastinate%'
                     AND (t.typtype = 'e' OR (t.typtype = 'c' AND EXISTS (
                       SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')))
                   LOOP
            EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
          END LOOP;
        END $$;
        """
    )
