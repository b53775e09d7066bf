CREATE OR REPLACE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  seen text := current_setting('fiscus.ledger_checked', true);
  legs integer;
  last_leg integer;
  bad text;
BEGIN
  -- One check per transfer is enough: when the previous check covered legs
  -- 0..n-1 of this very transfer, this leg (< n, and (transfer, leg) is unique) was
  -- among them. A leg added after that check has a number >= n and is checked.
  IF seen IS NOT NULL AND split_part(seen, ':', 1) = NEW.transfer_id::text
     AND NEW.leg < split_part(seen, ':', 2)::integer THEN
    RETURN NULL;
  END IF;
  SELECT sum(g.n), max(g.m), string_agg(g.currency, ', ') FILTER (WHERE g.p <> 0 OR g.q <> 0)
    INTO legs, last_leg, bad
    FROM (SELECT currency, count(*) AS n, max(leg) AS m,
                 sum(CASE WHEN direction = 'debit' THEN posted_amount ELSE -posted_amount END) AS p,
                 sum(CASE WHEN direction = 'debit' THEN pending_amount ELSE -pending_amount END) AS q
            FROM ledger_entries
           WHERE tenant_id = NEW.tenant_id AND transfer_id = NEW.transfer_id
           GROUP BY currency) g;
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'ledger: transfer % does not balance in %', NEW.transfer_id, bad
      USING ERRCODE = 'check_violation';
  END IF;
  IF legs = last_leg + 1 THEN
    PERFORM set_config('fiscus.ledger_checked', NEW.transfer_id::text || ':' || legs, true);
  END IF;
  RETURN NULL;
END $$;
