"""Ledger guards in the database: append-only entries, frozen transfers, balanced transfers.

- UPDATE or DELETE of an entry is refused (a mistake is fixed by a reversing transfer).
- A transfer row is never deleted, and only a pending one may change: once, to posted or
  voided, touching nothing but its status and resolution time.
- At commit, every transfer that received entries must balance to zero per currency, both
  in posted and in pending amounts (a deferred constraint trigger, so the entries of one
  transfer may be inserted in any order inside the transaction).

Revision ID: 0201
Revises: 0200
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0201"
down_revision: str | Sequence[str] | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'ledger: % on % is refused (entries are append-only)', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
        END $$;

        CREATE TRIGGER ledger_entries_append_only
          BEFORE UPDATE OR DELETE ON ledger_entries
          FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

        CREATE FUNCTION ledger_guard_transfer_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'ledger: transfers are never deleted (%)', OLD.id
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          IF OLD.status <> 'pending' OR NEW.status NOT IN ('posted', 'voided')
             OR (NEW.tenant_id, NEW.id, NEW.idempotency_key, NEW.kind, NEW.pending, NEW.parent_id,
                 NEW.currency, NEW.amount, NEW.timeout_s, NEW.timeout_at, NEW.effective_at, NEW.recorded_at,
                 NEW.description, NEW.metadata, NEW.fx)
                IS DISTINCT FROM
                (OLD.tenant_id, OLD.id, OLD.idempotency_key, OLD.kind, OLD.pending, OLD.parent_id,
                 OLD.currency, OLD.amount, OLD.timeout_s, OLD.timeout_at, OLD.effective_at, OLD.recorded_at,
                 OLD.description, OLD.metadata, OLD.fx) THEN
            RAISE EXCEPTION 'ledger: transfer % is % and cannot be changed', OLD.id, OLD.status
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN NEW;
        END $$;

        CREATE TRIGGER ledger_transfers_frozen
          BEFORE UPDATE OR DELETE ON ledger_transfers
          FOR EACH ROW EXECUTE FUNCTION ledger_guard_transfer_change();

        CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          seen text := current_setting('fiscus.ledger_checked', true);
          legs integer;
          last_leg integer;
          bad text;
        BEGIN
          -- One check per transfer is enough: when the previous check covered legs
          -- 0..n-1 of this very transfer, this leg (< n, and (transfer, leg) is unique) was
          -- among them. A leg added after that check has a number >= n and is checked.
          IF seen IS NOT NULL AND split_part(seen, ':', 1) = NEW.transfer_id::text
             AND NEW.leg < split_part(seen, ':', 2)::integer THEN
            RETURN NULL;
          END IF;
          SELECT sum(g.n), max(g.m), string_agg(g.currency, ', ') FILTER (WHERE g.p <> 0 OR g.q <> 0)
            INTO legs, last_leg, bad
            FROM (SELECT currency, count(*) AS n, max(leg) AS m,
                         sum(CASE WHEN direction = 'debit' THEN posted_amount ELSE -posted_amount END) AS p,
                         sum(CASE WHEN direction = 'debit' THEN pending_amount ELSE -pending_amount END) AS q
                    FROM ledger_entries
                   WHERE tenant_id = NEW.tenant_id AND transfer_id = NEW.transfer_id
                   GROUP BY currency) g;
          IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'ledger: transfer % does not balance in %', NEW.transfer_id, bad
              USING ERRCODE = 'check_violation';
          END IF;
          IF legs = last_leg + 1 THEN
            PERFORM set_config('fiscus.ledger_checked', NEW.transfer_id::text || ':' || legs, true);
          END IF;
          RETURN NULL;
        END $$;

        CREATE CONSTRAINT TRIGGER ledger_entries_balanced
          AFTER INSERT ON ledger_entries
          DEFERRABLE INITIALLY DEFERRED
          FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TRIGGER ledger_entries_balanced ON ledger_entries;
        DROP TRIGGER ledger_transfers_frozen ON ledger_transfers;
        DROP TRIGGER ledger_entries_append_only ON ledger_entries;
        DROP FUNCTION ledger_check_balanced();
        DROP FUNCTION ledger_guard_transfer_change();
        DROP FUNCTION ledger_refuse_change();
        """
    )
