CREATE OR REPLACE FUNCTION ledger_check_legs(
  p_tenant uuid, p_accounts uuid[], p_directions text[], p_amounts bigint[],
  p_currencies text[], p_closed_refuses boolean, OUT code text, OUT holders jsonb
) LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
AS $$
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
