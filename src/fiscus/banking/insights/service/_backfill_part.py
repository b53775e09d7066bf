"""Categorising the movements posted before insights existed (`fiscus insights categorise`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import text

from fiscus.access.context import Context
from fiscus.access.queries import tenant_ids_active
from fiscus.banking.alerts.service import Movement
from fiscus.banking.insights.service._categorise_part import Dated, categorise_dated
from fiscus.core.db import Database

BATCH = 500
MAX_BATCHES = 1_000_000
_ZERO = uuid.UUID(int=0)

# Every customer movement banking has posted, one row per account side, not yet
# categorised, in (transfer, account) order after a keyset position. Rejected and
# returned payments gave their money back, so they are left out.
_UNCATEGORISED = text("""
WITH src AS (
    SELECT t.from_account_id AS account_id, t.id AS transfer_id, -t.amount AS amount,
           t.currency, t.reference, NULL::text AS counterparty_iban,
           t.to_account_id AS counterparty_account_id, t.created_at
    FROM banking_transfers t WHERE t.tenant_id = :tenant_id AND t.from_account_id IS NOT NULL
    UNION ALL
    SELECT t.to_account_id, t.id, t.amount, t.currency, t.reference, NULL, t.from_account_id,
           t.created_at
    FROM banking_transfers t WHERE t.tenant_id = :tenant_id
    UNION ALL
    SELECT c.from_account_id, c.id, -c.sell_amount, c.sell_currency, NULL, NULL,
           c.to_account_id, c.created_at
    FROM banking_fx_conversions c WHERE c.tenant_id = :tenant_id
    UNION ALL
    SELECT c.to_account_id, c.id, c.buy_amount, c.buy_currency, NULL, NULL, c.from_account_id,
           c.created_at
    FROM banking_fx_conversions c WHERE c.tenant_id = :tenant_id
    UNION ALL
    SELECT p.from_account_id, p.ledger_transfer_id, -p.amount, p.currency, p.reference,
           p.creditor_iban, NULL, p.created_at
    FROM banking_payments p
    WHERE p.tenant_id = :tenant_id AND p.status NOT IN ('rejected', 'returned')
    UNION ALL
    SELECT i.account_id, i.id, i.amount, i.currency, i.remittance, NULL, NULL, i.created_at
    FROM banking_incoming_credits i WHERE i.tenant_id = :tenant_id AND i.account_id IS NOT NULL
)
SELECT src.*, a.ledger_account_id, (src.created_at AT TIME ZONE 'UTC')::date AS booked_on
FROM src
JOIN banking_accounts a ON a.tenant_id = :tenant_id AND a.id = src.account_id
WHERE (src.transfer_id, src.account_id) > (:after_transfer, :after_account)
  AND NOT EXISTS (
      SELECT 1 FROM banking_categorised_movements m
      WHERE m.tenant_id = :tenant_id AND m.account_id = src.account_id
        AND m.transfer_id = src.transfer_id)
ORDER BY src.transfer_id, src.account_id
LIMIT :limit
""")


async def movements_backfill(
    db: Database, *, tenant_id: uuid.UUID, on_batch: Callable[[int], None] | None = None
) -> int:
    """Categorise the tenant's movements not categorised yet, by the rules in force (no
    budget alerts: the past is not news), one unit of work per batch; how many."""
    ctx = Context.system(tenant_id, permissions=frozenset())
    after = (_ZERO, _ZERO)
    done = 0
    for _ in range(MAX_BATCHES):
        async with db.uow(tenant_id=tenant_id) as uow:
            rows = (
                await uow.session.execute(
                    _UNCATEGORISED,
                    {"tenant_id": tenant_id, "after_transfer": after[0],
                     "after_account": after[1], "limit": BATCH},
                )
            ).all()  # fmt: skip
            batch = [
                Dated(
                    Movement(
                        r.account_id, r.ledger_account_id, r.amount, r.currency, r.transfer_id,
                        reference=r.reference, counterparty_iban=r.counterparty_iban,
                        counterparty_account_id=r.counterparty_account_id,
                    ),
                    r.booked_on,
                )
                for r in rows
            ]  # fmt: skip
            stored = await categorise_dated(uow, ctx, batch)
        done += len(stored)
        if on_batch is not None:
            on_batch(len(rows))
        if len(rows) < BATCH:
            break
        after = (rows[-1].transfer_id, rows[-1].account_id)
    return done


async def movements_backfill_all(
    db: Database, *, on_batch: Callable[[int], None] | None = None
) -> int:
    """`movements_backfill` for every active tenant."""
    async with db.uow() as uow:
        tenants = await tenant_ids_active(uow)
    total = 0
    for tenant_id in tenants:
        total += await movements_backfill(db, tenant_id=tenant_id, on_batch=on_batch)
    return total
