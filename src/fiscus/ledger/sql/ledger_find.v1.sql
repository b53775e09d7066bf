CREATE OR REPLACE FUNCTION ledger_find(p_tenant uuid, p_id uuid, p_key text)
RETURNS ledger_transfers LANGUAGE plpgsql STABLE
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
AS $$
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
