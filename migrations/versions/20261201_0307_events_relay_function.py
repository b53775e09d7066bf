"""`events_relay_number`: the relay's advisory lock and its numbering in one statement.

The relay used to send the lock and the numbering `UPDATE` as two statements. Sent as one
plain statement, the `UPDATE`'s snapshot would predate the lock wait, so a relay that
waited for another one would not see that one's numbering and would hand out its
positions again. A VOLATILE PL/pgSQL function takes a fresh snapshot for each statement
in READ COMMITTED: the `UPDATE` sees everything committed before the lock was granted,
and the relay pays one statement on the wire.

Revision ID: 0307
Revises: 0306
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0307"
down_revision: str | Sequence[str] | None = "0306"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION events_relay_number(lock_key bigint, batch_limit integer, relayed timestamptz)
        RETURNS TABLE (
          id uuid, tenant_id uuid, type text, subject text, payload jsonb,
          created_at timestamptz, "position" bigint
        )
        LANGUAGE plpgsql VOLATILE AS $$
        #variable_conflict use_column
        BEGIN
          -- Blocking, not try-lock: a relay that waits sees what the other one could not.
          PERFORM pg_advisory_xact_lock(lock_key);
          RETURN QUERY
          WITH batch AS (
            SELECT e.id, e.tenant_id FROM events e
            WHERE e.position IS NULL ORDER BY e.id LIMIT batch_limit
          ), tenants AS (
            SELECT t.tenant_id,
                   coalesce((SELECT max(x.position) FROM events x
                             WHERE x.tenant_id = t.tenant_id), 0) AS last_position
            FROM (SELECT DISTINCT b.tenant_id FROM batch b) t
          ), numbered AS (
            SELECT b.id,
                   t.last_position
                     + row_number() OVER (PARTITION BY b.tenant_id ORDER BY b.id) AS position
            FROM batch b JOIN tenants t ON t.tenant_id = b.tenant_id
          )
          UPDATE events e SET position = n.position, relayed_at = relayed
          FROM numbered n WHERE e.id = n.id
          RETURNING e.id, e.tenant_id, e.type, e.subject, e.payload, e.created_at, e.position;
        END $$;
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION events_relay_number(bigint, integer, timestamptz)")
