CREATE OR REPLACE FUNCTION ledger_post_new(
  p_tenant uuid, p_id uuid, p_key text, p_kind text, p_parent uuid, p_currency text,
  p_accounts uuid[], p_directions text[], p_amounts bigint[], p_currencies text[],
  p_pending boolean, p_timeout_s integer, p_now timestamptz, p_effective_at timestamptz,
  p_description text, p_metadata jsonb, p_fx jsonb, p_event_id uuid
) RETURNS ledger_result LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
AS $$
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
