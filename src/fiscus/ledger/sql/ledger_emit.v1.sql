CREATE OR REPLACE FUNCTION ledger_emit(
  p_tenant uuid, p_event_id uuid, p_transfer uuid, p_kind text, p_status text,
  p_currency text, p_parent uuid, p_accounts uuid[], p_directions text[], p_amounts bigint[],
  p_currencies text[], p_holders jsonb, p_at timestamptz
) RETURNS void LANGUAGE plpgsql
  SET plan_cache_mode = force_generic_plan SET enable_seqscan = off
AS $$
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
