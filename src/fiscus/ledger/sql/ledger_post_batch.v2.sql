CREATE OR REPLACE FUNCTION ledger_post_batch(
  p_tenant uuid, p_atomic boolean, p_now timestamptz, p_ids uuid[], p_id_given boolean[],
  p_keys text[], p_currency text[], p_leg_end integer[], p_pending boolean[],
  p_timeout_s integer[], p_effective_at timestamptz[], p_description text[],
  p_metadata jsonb[], p_linked boolean[], p_accounts uuid[], p_directions text[],
  p_amounts bigint[], p_currencies text[], p_event_ids uuid[], p_fx jsonb[]
) RETURNS SETOF ledger_result LANGUAGE plpgsql AS $$
DECLARE
  n integer := cardinality(p_ids);
  i integer := 1;
  j integer;
  k integer;
  s integer;
  failed integer;
  r ledger_result;
  results ledger_result[] := '{}';
  chain ledger_result[];
BEGIN
  WHILE i <= n LOOP
    j := i;
    WHILE j < n AND p_linked[j] LOOP
      j := j + 1;
    END LOOP;
    IF p_linked[j] THEN
      FOR k IN i..j LOOP
        results := results || ROW('linked_event_chain_open', NULL, NULL, NULL, false, NULL)::ledger_result;
      END LOOP;
      EXIT;
    END IF;
    chain := '{}';
    failed := NULL;
    BEGIN
      FOR k IN i..j LOOP
        s := CASE WHEN k = 1 THEN 1 ELSE p_leg_end[k - 1] + 1 END;
        r := ledger_post(p_tenant, p_ids[k], p_id_given[k], p_keys[k], p_currency[k],
          p_accounts[s:p_leg_end[k]], p_directions[s:p_leg_end[k]], p_amounts[s:p_leg_end[k]],
          p_currencies[s:p_leg_end[k]], p_pending[k], p_timeout_s[k], p_now,
          p_effective_at[k], p_description[k], p_metadata[k], p_fx[k], p_event_ids[k]);
        chain := chain || r;
        IF r.code NOT IN ('ok', 'exists') THEN
          failed := k;
          IF j > i THEN
            RAISE EXCEPTION 'linked chain refused' USING ERRCODE = 'P0L01';
          END IF;
          EXIT;
        END IF;
      END LOOP;
    EXCEPTION WHEN SQLSTATE 'P0L01' THEN
      -- The chain's writes are rolled back with the subtransaction; report why.
      FOR k IN i..j LOOP
        chain[k - i + 1] := CASE WHEN k = failed THEN chain[k - i + 1]
          ELSE ROW('linked_event_failed', NULL, NULL, NULL, false, NULL)::ledger_result END;
      END LOOP;
    END;
    results := results || chain;
    IF failed IS NOT NULL AND p_atomic THEN
      EXIT;
    END IF;
    i := j + 1;
  END LOOP;
  RETURN QUERY SELECT * FROM unnest(results);
END $$;
