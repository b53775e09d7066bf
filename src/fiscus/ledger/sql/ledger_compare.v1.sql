CREATE OR REPLACE FUNCTION ledger_compare(
  t ledger_transfers, p_id uuid, p_id_given boolean, p_kind text, p_parent uuid,
  p_currency text, p_accounts uuid[], p_directions text[], p_amounts bigint[],
  p_pending boolean, p_timeout_s integer, p_effective_at timestamptz, p_description text,
  p_metadata jsonb, p_amount bigint
) RETURNS ledger_result LANGUAGE plpgsql STABLE
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
AS $$
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
