CREATE OR REPLACE FUNCTION ledger_reverse(
  p_tenant uuid, p_id uuid, p_id_given boolean, p_key text, p_original uuid,
  p_now timestamptz, p_description text, p_metadata jsonb, p_event_id uuid
) RETURNS ledger_result LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
AS $$
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
