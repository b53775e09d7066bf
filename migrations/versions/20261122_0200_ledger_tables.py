"""Ledger tables: accounts with their four balances, transfers and append-only entries.

Balances and limits are CHECK constraints, so no code path (ours or a hand-written UPDATE)
can leave an account overdrawn past its limit or with a negative balance column.

Revision ID: 0200
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0200"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ledger_accounts (
          tenant_id uuid NOT NULL,
          id uuid NOT NULL,
          code text NOT NULL CHECK (length(code) BETWEEN 1 AND 100),
          name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
          currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
          type text NOT NULL CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense')),
          normal_side text NOT NULL CHECK (normal_side IN ('debit', 'credit')),
          debits_must_not_exceed_credits boolean NOT NULL DEFAULT false,
          credits_must_not_exceed_debits boolean NOT NULL DEFAULT false,
          overdraft_limit bigint CHECK (overdraft_limit >= 0),
          closed_at timestamptz,
          metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
          debits_pending bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
          debits_posted bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
          credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
          credits_posted bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
          version bigint NOT NULL DEFAULT 0 CHECK (version >= 0),
          created_at timestamptz NOT NULL,
          CONSTRAINT pk_ledger_accounts PRIMARY KEY (tenant_id, id),
          CONSTRAINT uq_ledger_accounts_tenant_id_code UNIQUE (tenant_id, code),
          CONSTRAINT ck_ledger_accounts_one_limit_direction
            CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
          CONSTRAINT ck_ledger_accounts_debit_limit CHECK (
            NOT debits_must_not_exceed_credits
            OR debits_pending + debits_posted <= credits_posted + coalesce(overdraft_limit, 0)),
          CONSTRAINT ck_ledger_accounts_credit_limit CHECK (
            NOT credits_must_not_exceed_debits
            OR credits_pending + credits_posted <= debits_posted + coalesce(overdraft_limit, 0))
        );

        CREATE TABLE ledger_transfers (
          tenant_id uuid NOT NULL,
          id uuid NOT NULL,
          idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
          kind text NOT NULL CHECK (kind IN ('transfer', 'post_pending', 'void_pending', 'reversal')),
          status text NOT NULL CHECK (status IN ('pending', 'posted', 'voided')),
          pending boolean NOT NULL,
          parent_id uuid,
          currency text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
          amount bigint NOT NULL CHECK (amount >= 0),
          timeout_s integer CHECK (timeout_s > 0),
          timeout_at timestamptz,
          effective_at timestamptz NOT NULL,
          recorded_at timestamptz NOT NULL,
          resolved_at timestamptz,
          description text CHECK (length(description) <= 1000),
          metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
          fx jsonb,
          CONSTRAINT pk_ledger_transfers PRIMARY KEY (tenant_id, id),
          CONSTRAINT ck_ledger_transfers_parent CHECK ((kind = 'transfer') = (parent_id IS NULL)),
          CONSTRAINT ck_ledger_transfers_pending_status CHECK (pending OR status <> 'pending'),
          CONSTRAINT ck_ledger_transfers_timeout CHECK (pending OR (timeout_s IS NULL AND timeout_at IS NULL))
        );
        CREATE UNIQUE INDEX uq_ledger_transfers_tenant_id_idempotency_key
          ON ledger_transfers (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
        -- A pending transfer is resolved (posted or voided) at most once, and a transfer is
        -- reversed at most once: the database refuses the second one whatever the code does.
        CREATE UNIQUE INDEX uq_ledger_transfers_one_resolution
          ON ledger_transfers (tenant_id, parent_id) WHERE kind IN ('post_pending', 'void_pending');
        CREATE UNIQUE INDEX uq_ledger_transfers_one_reversal
          ON ledger_transfers (tenant_id, parent_id) WHERE kind = 'reversal';
        -- The expiry job scans every tenant's open pending transfers by deadline.
        CREATE INDEX ix_ledger_transfers_timeout_at
          ON ledger_transfers (timeout_at) WHERE status = 'pending' AND timeout_at IS NOT NULL;

        CREATE TABLE ledger_entries (
          tenant_id uuid NOT NULL,
          transfer_id uuid NOT NULL,
          leg smallint NOT NULL CHECK (leg >= 0),
          account_id uuid NOT NULL,
          currency text NOT NULL,
          direction text NOT NULL CHECK (direction IN ('debit', 'credit')),
          posted_amount bigint NOT NULL CHECK (posted_amount >= 0),
          pending_amount bigint NOT NULL,
          account_version bigint NOT NULL,
          debits_pending bigint NOT NULL,
          debits_posted bigint NOT NULL,
          credits_pending bigint NOT NULL,
          credits_posted bigint NOT NULL,
          recorded_at timestamptz NOT NULL,
          CONSTRAINT pk_ledger_entries PRIMARY KEY (tenant_id, transfer_id, leg),
          CONSTRAINT ck_ledger_entries_moves_something CHECK (posted_amount <> 0 OR pending_amount <> 0)
        );
        -- History (keyset by version) and point-in-time balances (recorded_at is taken after
        -- the account row is locked, so it grows with the version).
        CREATE UNIQUE INDEX uq_ledger_entries_account_version
          ON ledger_entries (tenant_id, account_id, account_version);
        CREATE INDEX ix_ledger_entries_account_recorded_at
          ON ledger_entries (tenant_id, account_id, recorded_at);

        SELECT fiscus_enable_tenant_rls('ledger_accounts');
        SELECT fiscus_enable_tenant_rls('ledger_transfers');
        SELECT fiscus_enable_tenant_rls('ledger_entries');
        GRANT SELECT, INSERT, UPDATE, DELETE ON ledger_accounts, ledger_transfers, ledger_entries
          TO fiscus_app;
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE ledger_entries, ledger_transfers, ledger_accounts")
