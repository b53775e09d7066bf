CREATE OR REPLACE FUNCTION ledger_apply(
  p_tenant uuid, p_transfer uuid, p_accounts uuid[], p_directions text[], p_currencies text[],
  p_posted bigint[], p_pending bigint[], p_at timestamptz
) RETURNS void LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
AS $$
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
