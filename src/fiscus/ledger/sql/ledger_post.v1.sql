CREATE OR REPLACE FUNCTION ledger_post(
  p_tenant uuid, p_id uuid, p_id_given boolean, p_key text, p_currency text,
  p_accounts uuid[], p_directions text[], p_amounts bigint[], p_currencies text[],
  p_pending boolean, p_timeout_s integer, p_now timestamptz, p_effective_at timestamptz,
  p_description text, p_metadata jsonb, p_fx jsonb, p_event_id uuid
) RETURNS ledger_result LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
AS $$
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
