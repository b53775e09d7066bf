CREATE OR REPLACE FUNCTION ledger_guard_transfer_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'ledger: transfers are never deleted (%)', OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.status <> 'pending' OR NEW.status NOT IN ('posted', 'voided')
     OR (NEW.tenant_id, NEW.id, NEW.idempotency_key, NEW.kind, NEW.pending, NEW.parent_id,
         NEW.currency, NEW.amount, NEW.timeout_s, NEW.timeout_at, NEW.effective_at, NEW.recorded_at,
         NEW.description, NEW.metadata, NEW.fx)
        IS DISTINCT FROM
        (OLD.tenant_id, OLD.id, OLD.idempotency_key, OLD.kind, OLD.pending, OLD.parent_id,
         OLD.currency, OLD.amount, OLD.timeout_s, OLD.timeout_at, OLD.effective_at, OLD.recorded_at,
         OLD.description, OLD.metadata, OLD.fx) THEN
    RAISE EXCEPTION 'ledger: transfer % is % and cannot be changed', OLD.id, OLD.status
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$;
