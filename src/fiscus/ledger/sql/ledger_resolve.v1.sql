CREATE OR REPLACE FUNCTION ledger_resolve(
  p_tenant uuid, p_id uuid, p_id_given boolean, p_key text, p_pending_id uuid,
  p_void boolean, p_amount bigint, p_now timestamptz, p_description text, p_metadata jsonb,
  p_event_id uuid
) RETURNS ledger_result LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
AS $$
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
