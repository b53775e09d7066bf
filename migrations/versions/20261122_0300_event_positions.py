"""Event stream: per-tenant gap-free positions assigned by the relay, and a commit wake-up.

Writers insert events with `position` NULL, so emitting never contends on a per-tenant
counter. The relay (one at a time, under an advisory lock) numbers the rows it can see
in commit-visibility order and fans them out in the same transaction. A statement-level
trigger calls pg_notify inside the emitting transaction; PostgreSQL delivers it only if
that transaction commits, which is what wakes the relay.

Revision ID: 0300
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0300"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("position", sa.BigInteger(), nullable=True))
    op.add_column("events", sa.Column("relayed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "uq_events_tenant_id_position", "events", ["tenant_id", "position"], unique=True
    )
    # The relay's work list: small, because rows leave it as soon as they are numbered.
    op.create_index(
        "ix_events_unrelayed", "events", ["id"], postgresql_where=sa.text("position IS NULL")
    )
    op.create_index("ix_events_tenant_id_created_at", "events", ["tenant_id", "created_at"])
    op.create_check_constraint("position_positive", "events", "position IS NULL OR position > 0")
    op.execute(
        """
        CREATE FUNCTION fiscus_events_notify() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
          -- An empty payload lets PostgreSQL fold the notifications of one transaction.
          PERFORM pg_notify('fiscus_events', '');
          RETURN NULL;
        END $$;

        CREATE TRIGGER events_notify AFTER INSERT ON events
        FOR EACH STATEMENT EXECUTE FUNCTION fiscus_events_notify();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS events_notify ON events")
    op.execute("DROP FUNCTION IF EXISTS fiscus_events_notify()")
    op.drop_constraint(op.f("ck_events_position_positive"), "events", type_="check")
    op.drop_index("ix_events_tenant_id_created_at", table_name="events")
    op.drop_index("ix_events_unrelayed", table_name="events")
    op.drop_index("uq_events_tenant_id_position", table_name="events")
    op.drop_column("events", "relayed_at")
    op.drop_column("events", "position")
