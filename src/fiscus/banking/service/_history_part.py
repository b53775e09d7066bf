"""An account's balance and history: banking's account row, the ledger's numbers.

Reads, but composed from another module's queries, which only a service may call.
Each is two round trips: banking's account (with the caller's link, one statement) and
the ledger's balance or page of entries (one statement).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fiscus.access.context import Context
from fiscus.banking.queries import account_brief
from fiscus.banking.schemas import BalanceRead, TransactionRead
from fiscus.core.db import Database
from fiscus.ledger.queries import balance_get, entries_page

# Statuses in which an account can send money; in the others nothing is available.
SENDING = frozenset({"active"})


async def account_balance(db: Database, ctx: Context, *, account_id: uuid.UUID) -> BalanceRead:
    """The ledger balance; `available` is after holds and overdraft, 0 if it cannot send."""
    ledger_account_id, status, currency = await account_brief(db, ctx, account_id=account_id)
    balance = await balance_get(db=db, ctx=ctx, account_id=ledger_account_id)
    available = balance.available if status in SENDING else 0
    return BalanceRead(balance=balance.balance, available=available, currency=currency)


async def account_transactions(
    db: Database,
    ctx: Context,
    *,
    account_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    recorded_from: datetime | None,
    recorded_before: datetime | None,
) -> tuple[list[TransactionRead], str | None]:
    """The account's ledger entries, newest first: + money in, - money out."""
    ledger_account_id, _, _ = await account_brief(db, ctx, account_id=account_id)
    entries, next_cursor = await entries_page(
        db=db,
        ctx=ctx,
        account_id=ledger_account_id,
        limit=limit,
        cursor=cursor,
        recorded_from=recorded_from,
        recorded_before=recorded_before,
    )
    return [
        TransactionRead(
            transfer_id=e.transfer_id,
            amount=(e.posted_amount or e.pending_amount) * (1 if e.direction == "credit" else -1),
            currency=e.currency,
            balance_after=e.balance,
            pending=e.pending_amount > 0 and e.posted_amount == 0,
            recorded_at=e.recorded_at,
        )
        for e in entries
    ], next_cursor
