"""Audit trail: append-only, hash-chained per tenant.

Writers insert unsealed rows (no chain position, no hash), so the hot path takes no
tenant-wide lock; the sealer later gives each row its `chain_seq`, `prev_hash` and
`hash`. The trigger refuses DELETE, and refuses UPDATE except that one sealing step
(null -> value on the chain columns, every other column unchanged). The application
role has no TRUNCATE privilege; only the database owner can empty the table.

Revision ID: 0102
Revises: 0101
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0102"
down_revision: str | Sequence[str] | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("actor_type", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("object_type", sa.Text(), nullable=True),
        sa.Column("object_id", sa.Text(), nullable=True),
        sa.Column("changes", postgresql.JSONB(), nullable=False),
        sa.Column("ip", sa.Text(), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("chain_seq", sa.BigInteger(), nullable=True),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=True),
        sa.Column("hash", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_audit_events"),
    )
    op.create_index(
        "uq_audit_events_tenant_id_chain_seq",
        "audit_events",
        ["tenant_id", "chain_seq"],
        unique=True,
    )
    op.create_index(
        "ix_audit_events_unsealed",
        "audit_events",
        ["tenant_id", "id"],
        postgresql_where=sa.text("hash IS NULL"),
    )
    op.execute("SELECT fiscus_enable_tenant_rls('audit_events')")
    op.execute(
        """
        CREATE FUNCTION fiscus_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
             AND OLD.chain_seq IS NULL AND OLD.prev_hash IS NULL
             AND (to_jsonb(OLD) - 'chain_seq' - 'prev_hash' - 'hash')
                 = (to_jsonb(NEW) - 'chain_seq' - 'prev_hash' - 'hash') THEN
            RETURN NEW;  -- sealing: the one change an audit row may receive
          END IF;
          RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
          FOR EACH ROW EXECUTE FUNCTION fiscus_audit_append_only();
        """
    )


def downgrade() -> None:
    op.drop_table("audit_events")
    op.execute("DROP FUNCTION IF EXISTS fiscus_audit_append_only()")
