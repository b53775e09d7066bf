"""Ledger posting functions: lock, check, insert and update in one round trip.

Each function takes the touched account rows with `FOR UPDATE` in id order (so concurrent
postings never deadlock), decides the one result code by the documented precedence, and
only then writes the transfer, its entries (with each account's running balances and
version) and the new balances. The CHECK constraints and triggers of 0200/0201 remain the
last word: a bug here can make a posting fail, never make it wrong.

They run as the caller (SECURITY INVOKER), so row-level security still binds them to the
tenant of the transaction.

Revision ID: 0202
Revises: 0201
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0202"
down_revision: str | Sequence[str] | None = "0201"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESULT_TYPE = """
CREATE TYPE ledger_result AS (
  code text, transfer_id uuid, status text, recorded_at timestamptz, replayed boolean,
  holders jsonb
);
"""

# Applies already-checked legs: new balances on the accounts and one entry per leg.
APPLY = """
CREATE FUNCTION ledger_apply(
  p_tenant uuid, p_transfer uuid, p_accounts uuid[], p_directions text[], p_currencies text[],
  p_posted bigint[], p_pending bigint[], p_at timestamptz
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- PL/pgSQL rather than SQL: its statement plans are cached for the session.
  WITH l AS (
    SELECT * FROM unnest(p_accounts, p_directions, p_currencies, p_posted, p_pending)
      WITH ORDINALITY AS l(account_id, direction, currency, posted, pending, leg)
  ), u AS (
    UPDATE ledger_accounts a SET
      debits_pending = a.debits_pending + CASE WHEN l.direction = 'debit' THEN l.pending ELSE 0 END,
      debits_posted = a.debits_posted + CASE WHEN l.direction = 'debit' THEN l.posted ELSE 0 END,
      credits_pending = a.credits_pending + CASE WHEN l.direction = 'credit' THEN l.pending ELSE 0 END,
      credits_posted = a.credits_posted + CASE WHEN l.direction = 'credit' THEN l.posted ELSE 0 END,
      version = a.version + 1
    FROM l
    WHERE a.tenant_id = p_tenant AND a.id = l.account_id
    RETURNING a.id, a.version, a.debits_pending, a.debits_posted, a.credits_pending,
              a.credits_posted, l.leg, l.direction, l.currency, l.posted, l.pending
  )
  INSERT INTO ledger_entries (tenant_id, transfer_id, leg, account_id, currency, direction,
    posted_amount, pending_amount, account_version, debits_pending, debits_posted,
    credits_pending, credits_posted, recorded_at)
  SELECT p_tenant, p_transfer, u.leg - 1, u.id, u.currency, u.direction, u.posted, u.pending,
         u.version, u.debits_pending, u.debits_posted, u.credits_pending, u.credits_posted, p_at
    FROM u;
END $$;
"""

# Writes the outbox row of a posting (the row `core.events.emit` writes, same table and
# columns), inside the posting's own transaction, so the event exists iff the posting does.
EMIT = """
CREATE FUNCTION ledger_emit(
  p_tenant uuid, p_event_id uuid, p_transfer uuid, p_kind text, p_status text,
  p_currency text, p_parent uuid, p_accounts uuid[], p_directions text[], p_amounts bigint[],
  p_currencies text[], p_holders jsonb, p_at timestamptz
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO events (id, tenant_id, type, subject, payload, created_at)
  SELECT p_event_id, p_tenant,
    CASE WHEN p_kind = 'reversal' THEN 'transfer.reversed'
         WHEN p_status = 'pending' THEN 'transfer.pending'
         WHEN p_status = 'voided' THEN 'transfer.voided'
         ELSE 'transfer.posted' END,
    'transfer/' || p_transfer,
    jsonb_build_object('transfer_id', p_transfer, 'status', p_status, 'kind', p_kind,
      'currency', p_currency, 'parent_id', p_parent, 'legs',
      (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                'account_id', l.account_id, 'direction', l.direction, 'amount', l.amount,
                'currency', l.currency, 'holder_user_id', p_holders -> l.account_id::text))
              ORDER BY l.n)
         FROM unnest(p_accounts, p_directions, p_amounts, p_currencies)
                WITH ORDINALITY AS l(account_id, direction, amount, currency, n))),
    p_at;
END $$;
"""

# Locks the legs' accounts in id order and returns the first refusal by precedence (or
# 'ok') and the holders of the touched accounts, for the event payload.
CHECK_LEGS = """
CREATE FUNCTION ledger_check_legs(
  p_tenant uuid, p_accounts uuid[], p_directions text[], p_amounts bigint[],
  p_currencies text[], p_closed_refuses boolean, OUT code text, OUT holders jsonb
) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM ledger_accounts
   WHERE tenant_id = p_tenant AND id = ANY (p_accounts) ORDER BY id FOR UPDATE;
  SELECT CASE
      WHEN bool_or(a.id IS NULL) THEN 'account_not_found'
      WHEN bool_or(a.currency <> l.currency) THEN 'currency_mismatch'
      WHEN p_closed_refuses AND bool_or(a.closed_at IS NOT NULL) THEN 'account_closed'
      WHEN bool_or(l.direction = 'debit' AND a.debits_must_not_exceed_credits
                   AND a.overdraft_limit IS NOT NULL
                   AND a.debits_pending + a.debits_posted + l.amount
                       > a.credits_posted + a.overdraft_limit) THEN 'exceeds_overdraft_limit'
      WHEN bool_or(l.direction = 'debit' AND a.debits_must_not_exceed_credits
                   AND a.debits_pending + a.debits_posted + l.amount
                       > a.credits_posted + coalesce(a.overdraft_limit, 0)) THEN 'exceeds_credits'
      WHEN bool_or(l.direction = 'credit' AND a.credits_must_not_exceed_debits
                   AND a.overdraft_limit IS NOT NULL
                   AND a.credits_pending + a.credits_posted + l.amount
                       > a.debits_posted + a.overdraft_limit) THEN 'exceeds_credit_limit'
      WHEN bool_or(l.direction = 'credit' AND a.credits_must_not_exceed_debits
                   AND a.credits_pending + a.credits_posted + l.amount
                       > a.debits_posted + coalesce(a.overdraft_limit, 0)) THEN 'exceeds_debits'
      ELSE 'ok' END,
    coalesce(jsonb_object_agg(a.id, a.metadata -> 'holder_user_id')
               FILTER (WHERE a.metadata ? 'holder_user_id'), '{}'::jsonb)
    INTO code, holders
    FROM unnest(p_accounts, p_directions, p_amounts, p_currencies)
           AS l(account_id, direction, amount, currency)
    LEFT JOIN ledger_accounts a ON a.tenant_id = p_tenant AND a.id = l.account_id;
END $$;
"""

# Finds a transfer already stored under this id or idempotency key.
FIND = """
CREATE FUNCTION ledger_find(p_tenant uuid, p_id uuid, p_key text)
RETURNS ledger_transfers LANGUAGE plpgsql STABLE AS $$
DECLARE
  t ledger_transfers;
BEGIN
  IF p_key IS NOT NULL THEN
    SELECT * INTO t FROM ledger_transfers WHERE tenant_id = p_tenant AND idempotency_key = p_key;
    IF FOUND THEN RETURN t; END IF;
  END IF;
  SELECT * INTO t FROM ledger_transfers WHERE tenant_id = p_tenant AND id = p_id;
  RETURN t;
END $$;
"""

# Compares a retried request with the stored transfer: `exists` returns the original,
# anything different is refused as exists_with_different_<field> (first field by order).
COMPARE = """
CREATE FUNCTION ledger_compare(
  t ledger_transfers, p_id uuid, p_id_given boolean, p_kind text, p_parent uuid,
  p_currency text, p_accounts uuid[], p_directions text[], p_amounts bigint[],
  p_pending boolean, p_timeout_s integer, p_effective_at timestamptz, p_description text,
  p_metadata jsonb, p_amount bigint
) RETURNS ledger_result LANGUAGE plpgsql STABLE AS $$
DECLARE
  o_accounts uuid[];
  o_directions text[];
  o_amounts bigint[];
  field text;
BEGIN
  IF p_id_given AND t.id <> p_id THEN
    field := 'id';
  ELSIF t.kind <> p_kind THEN
    field := 'kind';
  ELSIF t.parent_id IS DISTINCT FROM p_parent THEN
    field := 'parent';
  ELSIF p_kind = 'transfer' THEN
    SELECT array_agg(e.account_id ORDER BY e.leg), array_agg(e.direction ORDER BY e.leg),
           array_agg(e.posted_amount + e.pending_amount ORDER BY e.leg)
      INTO o_accounts, o_directions, o_amounts
      FROM ledger_entries e WHERE e.tenant_id = t.tenant_id AND e.transfer_id = t.id;
    field := CASE
      WHEN t.currency <> p_currency THEN 'currency'
      WHEN o_accounts <> p_accounts OR o_directions <> p_directions THEN 'legs'
      WHEN o_amounts <> p_amounts THEN 'amount'
      WHEN t.pending <> p_pending THEN 'pending'
      WHEN t.timeout_s IS DISTINCT FROM p_timeout_s THEN 'timeout'
      WHEN p_effective_at IS NOT NULL AND t.effective_at <> p_effective_at THEN 'effective_at'
      WHEN t.description IS DISTINCT FROM p_description THEN 'description'
      WHEN t.metadata <> p_metadata THEN 'metadata'
    END;
  ELSIF p_kind = 'post_pending' AND p_amount IS NOT NULL AND t.amount <> p_amount THEN
    field := 'amount';
  END IF;
  IF field IS NOT NULL THEN
    RETURN ROW('exists_with_different_' || field, t.id, t.status, t.recorded_at, true, NULL)::ledger_result;
  END IF;
  RETURN ROW('exists', t.id, t.status, t.recorded_at, true, NULL)::ledger_result;
END $$;
"""

# Checks and writes a new transfer (no idempotency lookup: callers do it first).
POST_NEW = """
CREATE FUNCTION ledger_post_new(
  p_tenant uuid, p_id uuid, p_key text, p_kind text, p_parent uuid, p_currency text,
  p_accounts uuid[], p_directions text[], p_amounts bigint[], p_currencies text[],
  p_pending boolean, p_timeout_s integer, p_now timestamptz, p_effective_at timestamptz,
  p_description text, p_metadata jsonb, p_fx jsonb, p_event_id uuid
) RETURNS ledger_result LANGUAGE plpgsql AS $$
DECLARE
  checked record;
  at timestamptz;
  zeros bigint[];
BEGIN
  SELECT * INTO checked
    FROM ledger_check_legs(p_tenant, p_accounts, p_directions, p_amounts, p_currencies, true);
  IF checked.code <> 'ok' THEN
    RETURN ROW(checked.code, NULL, NULL, NULL, false, NULL)::ledger_result;
  END IF;
  -- Taken after the locks, so an account's entries are recorded in version order.
  at := clock_timestamp();
  INSERT INTO ledger_transfers (tenant_id, id, idempotency_key, kind, status, pending, parent_id,
    currency, amount, timeout_s, timeout_at, effective_at, recorded_at, description, metadata, fx)
  VALUES (p_tenant, p_id, p_key, p_kind, CASE WHEN p_pending THEN 'pending' ELSE 'posted' END,
    p_pending, p_parent, p_currency,
    (SELECT coalesce(sum(x.amount), 0) FROM unnest(p_directions, p_amounts, p_currencies)
        AS x(direction, amount, currency) WHERE x.direction = 'debit' AND x.currency = p_currency),
    p_timeout_s, p_now + make_interval(secs => p_timeout_s), coalesce(p_effective_at, p_now), at,
    p_description, p_metadata, p_fx);
  zeros := array_fill(0::bigint, ARRAY[cardinality(p_amounts)]);
  IF p_pending THEN
    PERFORM ledger_apply(p_tenant, p_id, p_accounts, p_directions, p_currencies, zeros, p_amounts, at);
  ELSE
    PERFORM ledger_apply(p_tenant, p_id, p_accounts, p_directions, p_currencies, p_amounts, zeros, at);
  END IF;
  PERFORM ledger_emit(p_tenant, p_event_id, p_id, p_kind,
    CASE WHEN p_pending THEN 'pending' ELSE 'posted' END, p_currency, p_parent, p_accounts,
    p_directions, p_amounts, p_currencies, checked.holders, p_now);
  RETURN ROW('ok', p_id, CASE WHEN p_pending THEN 'pending' ELSE 'posted' END, at, false,
             checked.holders)::ledger_result;
END $$;
"""

POST = """
CREATE FUNCTION ledger_post(
  p_tenant uuid, p_id uuid, p_id_given boolean, p_key text, p_currency text,
  p_accounts uuid[], p_directions text[], p_amounts bigint[], p_currencies text[],
  p_pending boolean, p_timeout_s integer, p_now timestamptz, p_effective_at timestamptz,
  p_description text, p_metadata jsonb, p_fx jsonb, p_event_id uuid
) RETURNS ledger_result LANGUAGE plpgsql AS $$
DECLARE
  t ledger_transfers;
BEGIN
  t := ledger_find(p_tenant, p_id, p_key);
  IF t.id IS NOT NULL THEN
    RETURN ledger_compare(t, p_id, p_id_given, 'transfer', NULL, p_currency, p_accounts,
      p_directions, p_amounts, p_pending, p_timeout_s, p_effective_at, p_description,
      p_metadata, NULL);
  END IF;
  RETURN ledger_post_new(p_tenant, p_id, p_key, 'transfer', NULL, p_currency, p_accounts,
    p_directions, p_amounts, p_currencies, p_pending, p_timeout_s, p_now, p_effective_at,
    p_description, p_metadata, p_fx, p_event_id);
END $$;
"""

# Posts (fully or partly) or voids a pending transfer, exactly once.
RESOLVE = """
CREATE FUNCTION ledger_resolve(
  p_tenant uuid, p_id uuid, p_id_given boolean, p_key text, p_pending_id uuid,
  p_void boolean, p_amount bigint, p_now timestamptz, p_description text, p_metadata jsonb,
  p_event_id uuid
) RETURNS ledger_result LANGUAGE plpgsql AS $$
DECLARE
  kind text := CASE WHEN p_void THEN 'void_pending' ELSE 'post_pending' END;
  t ledger_transfers;
  p ledger_transfers;
  accounts uuid[];
  directions text[];
  currencies text[];
  amounts bigint[];
  posted bigint[];
  released bigint[];
  checked record;
  at timestamptz;
BEGIN
  t := ledger_find(p_tenant, p_id, p_key);
  IF t.id IS NOT NULL THEN
    RETURN ledger_compare(t, p_id, p_id_given, kind, p_pending_id, NULL, NULL, NULL, NULL,
      NULL, NULL, NULL, NULL, NULL, p_amount);
  END IF;
  SELECT * INTO p FROM ledger_transfers
   WHERE tenant_id = p_tenant AND id = p_pending_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN ROW('pending_transfer_not_found', NULL, NULL, NULL, false, NULL)::ledger_result;
  ELSIF p.kind <> 'transfer' OR NOT p.pending THEN
    RETURN ROW('pending_transfer_not_pending', NULL, NULL, NULL, false, NULL)::ledger_result;
  ELSIF p.status = 'posted' THEN
    RETURN ROW('pending_transfer_already_posted', NULL, NULL, NULL, false, NULL)::ledger_result;
  ELSIF p.status = 'voided' THEN
    RETURN ROW('pending_transfer_already_voided', NULL, NULL, NULL, false, NULL)::ledger_result;
  ELSIF NOT p_void AND p.timeout_at IS NOT NULL AND p.timeout_at <= p_now THEN
    RETURN ROW('pending_transfer_expired', NULL, NULL, NULL, false, NULL)::ledger_result;
  END IF;
  SELECT array_agg(account_id ORDER BY leg), array_agg(direction ORDER BY leg),
         array_agg(currency ORDER BY leg), array_agg(pending_amount ORDER BY leg)
    INTO accounts, directions, currencies, amounts
    FROM ledger_entries WHERE tenant_id = p_tenant AND transfer_id = p.id;
  IF p_amount IS NOT NULL AND NOT p_void THEN
    IF cardinality(accounts) <> 2 THEN
      RETURN ROW('partial_post_requires_two_legs', NULL, NULL, NULL, false, NULL)::ledger_result;
    ELSIF p_amount > p.amount THEN
      RETURN ROW('exceeds_pending_transfer_amount', NULL, NULL, NULL, false, NULL)::ledger_result;
    END IF;
  END IF;
  -- Moving pending to posted never raises a debit or credit total, so only the state
  -- checks apply; a voided hold may be released even from a closed account.
  SELECT * INTO checked FROM ledger_check_legs(p_tenant, accounts, directions,
    array_fill(0::bigint, ARRAY[cardinality(accounts)]), currencies, NOT p_void);
  IF checked.code <> 'ok' THEN
    RETURN ROW(checked.code, NULL, NULL, NULL, false, NULL)::ledger_result;
  END IF;
  IF p_void THEN
    posted := array_fill(0::bigint, ARRAY[cardinality(accounts)]);
  ELSIF p_amount IS NULL THEN
    posted := amounts;
  ELSE
    posted := ARRAY[p_amount, p_amount];
  END IF;
  SELECT array_agg(-x) INTO released FROM unnest(amounts) AS x;
  at := clock_timestamp();
  UPDATE ledger_transfers SET status = CASE WHEN p_void THEN 'voided' ELSE 'posted' END,
         resolved_at = at
   WHERE tenant_id = p_tenant AND id = p.id;
  INSERT INTO ledger_transfers (tenant_id, id, idempotency_key, kind, status, pending, parent_id,
    currency, amount, effective_at, recorded_at, description, metadata)
  VALUES (p_tenant, p_id, p_key, kind, CASE WHEN p_void THEN 'voided' ELSE 'posted' END, false,
    p.id, p.currency, CASE WHEN p_void THEN p.amount ELSE coalesce(p_amount, p.amount) END,
    p_now, at, p_description, coalesce(p_metadata, '{}'::jsonb));
  PERFORM ledger_apply(p_tenant, p_id, accounts, directions, currencies, posted, released, at);
  PERFORM ledger_emit(p_tenant, p_event_id, p_id, kind,
    CASE WHEN p_void THEN 'voided' ELSE 'posted' END, p.currency, p.id, accounts, directions,
    CASE WHEN p_void THEN amounts ELSE posted END, currencies, checked.holders, p_now);
  RETURN ROW('ok', p_id, CASE WHEN p_void THEN 'voided' ELSE 'posted' END, at, false,
             checked.holders)::ledger_result;
END $$;
"""

# Reverses a posted transfer with a new, linked transfer of opposite legs, at most once.
REVERSE = """
CREATE FUNCTION ledger_reverse(
  p_tenant uuid, p_id uuid, p_id_given boolean, p_key text, p_original uuid,
  p_now timestamptz, p_description text, p_metadata jsonb, p_event_id uuid
) RETURNS ledger_result LANGUAGE plpgsql AS $$
DECLARE
  t ledger_transfers;
  o ledger_transfers;
  accounts uuid[];
  directions text[];
  currencies text[];
  amounts bigint[];
BEGIN
  SELECT * INTO o FROM ledger_transfers
   WHERE tenant_id = p_tenant AND id = p_original FOR UPDATE;
  -- A pending transfer that was posted is reversed through its posting, so that both
  -- ids lead to the same (single) reversal.
  IF FOUND AND o.kind = 'transfer' AND o.pending AND o.status = 'posted' THEN
    SELECT * INTO o FROM ledger_transfers
     WHERE tenant_id = p_tenant AND parent_id = o.id AND kind = 'post_pending' FOR UPDATE;
  END IF;
  t := ledger_find(p_tenant, p_id, p_key);
  IF t.id IS NOT NULL THEN
    RETURN ledger_compare(t, p_id, p_id_given, 'reversal', coalesce(o.id, p_original), NULL,
      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
  END IF;
  IF o.id IS NULL THEN
    RETURN ROW('transfer_not_found', NULL, NULL, NULL, false, NULL)::ledger_result;
  ELSIF o.kind IN ('void_pending', 'reversal') THEN
    RETURN ROW('transfer_not_reversible', NULL, NULL, NULL, false, NULL)::ledger_result;
  ELSIF o.status <> 'posted' THEN
    RETURN ROW('transfer_not_posted', NULL, NULL, NULL, false, NULL)::ledger_result;
  ELSIF EXISTS (SELECT 1 FROM ledger_transfers WHERE tenant_id = p_tenant
                   AND parent_id = o.id AND kind = 'reversal') THEN
    RETURN ROW('transfer_already_reversed', NULL, NULL, NULL, false, NULL)::ledger_result;
  END IF;
  SELECT array_agg(account_id ORDER BY leg),
         array_agg(CASE WHEN direction = 'debit' THEN 'credit' ELSE 'debit' END ORDER BY leg),
         array_agg(currency ORDER BY leg), array_agg(posted_amount ORDER BY leg)
    INTO accounts, directions, currencies, amounts
    FROM ledger_entries WHERE tenant_id = p_tenant AND transfer_id = o.id AND posted_amount > 0;
  RETURN ledger_post_new(p_tenant, p_id, p_key, 'reversal', o.id, o.currency, accounts,
    directions, amounts, currencies, false, NULL, p_now, NULL, p_description,
    coalesce(p_metadata, '{}'::jsonb), o.fx, p_event_id);
END $$;
"""

FUNCTIONS = (
    "ledger_reverse(uuid, uuid, boolean, text, uuid, timestamptz, text, jsonb, uuid)",
    "ledger_resolve(uuid, uuid, boolean, text, uuid, boolean, bigint, timestamptz, text, jsonb,"
    " uuid)",
    "ledger_post(uuid, uuid, boolean, text, text, uuid[], text[], bigint[], text[], boolean,"
    " integer, timestamptz, timestamptz, text, jsonb, jsonb, uuid)",
    "ledger_post_new(uuid, uuid, text, text, uuid, text, uuid[], text[], bigint[], text[],"
    " boolean, integer, timestamptz, timestamptz, text, jsonb, jsonb, uuid)",
    "ledger_compare(ledger_transfers, uuid, boolean, text, uuid, text, uuid[], text[], bigint[],"
    " boolean, integer, timestamptz, text, jsonb, bigint)",
    "ledger_find(uuid, uuid, text)",
    "ledger_check_legs(uuid, uuid[], text[], bigint[], text[], boolean)",
    "ledger_emit(uuid, uuid, uuid, text, text, text, uuid, uuid[], text[], bigint[], text[], jsonb,"
    " timestamptz)",
    "ledger_apply(uuid, uuid, uuid[], text[], text[], bigint[], bigint[], timestamptz)",
)


def upgrade() -> None:
    for statement in (
        RESULT_TYPE,
        APPLY,
        EMIT,
        CHECK_LEGS,
        FIND,
        COMPARE,
        POST_NEW,
        POST,
        RESOLVE,
        REVERSE,
    ):
        op.execute(statement)
    # Array arguments make the planner's custom plans no better than the generic one, but
    # re-planning them on every call doubled the cost of a posting: plan once. Every query
    # here is a key lookup; a plan cached while a table was small (or analysed empty)
    # must not stay a sequential scan as the table grows.
    for signature in FUNCTIONS:
        op.execute(
            f"ALTER FUNCTION {signature} SET plan_cache_mode = force_generic_plan"
            " SET enable_seqscan = off"
        )


def downgrade() -> None:
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION {signature}")
    op.execute("DROP TYPE ledger_result")
