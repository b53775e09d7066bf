"""Ledger reads for statements: an account over a period, summed and paged in order.

A period is `[start, end)` in recorded time. Each function is one round trip. Pages are
keyset pages on the account's entry version, oldest first, so a statement of any length is
read a page at a time; `through_version` (the account's version when the statement began)
keeps entries recorded while it is being written out of it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from fiscus.access.context import Context
from fiscus.core.db import Database
from fiscus.ledger.errors import LedgerAccountNotFound

MAX_PAGE = 5_000


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    """An account over a period: its balance before it, what came in and went out."""

    currency: str
    normal_side: str
    opening: int
    credits: int  # posted credits in the period (see `money_in` for the direction)
    debits: int
    count: int
    through_version: int

    @property
    def money_in(self) -> int:
        """Posted amounts that raised the balance (on the account's normal side)."""
        return self.credits if self.normal_side == "credit" else self.debits

    @property
    def money_out(self) -> int:
        """Posted amounts that lowered the balance."""
        return self.debits if self.normal_side == "credit" else self.credits

    @property
    def closing(self) -> int:
        """Opening plus in less out."""
        return self.opening + self.money_in - self.money_out


@dataclass(frozen=True, slots=True)
class PeriodEntry:
    """One posted entry with its transfer's description and the accounts on the other side."""

    account_version: int
    transfer_id: uuid.UUID
    leg: int
    amount: int  # signed: + raised the balance, - lowered it
    currency: str
    recorded_at: datetime
    effective_at: datetime
    kind: str
    description: str | None
    counterparts: tuple[uuid.UUID, ...]


# Opening: the posted balance of the last entry recorded before the start (as balance_get
# reads a past balance); then the period's posted sums up to the account's current version.
SUMMARY_SQL = (
    "SELECT a.normal_side, a.currency, a.version, o.debits_posted, o.credits_posted,"
    " s.debits, s.credits, s.n"
    " FROM ledger_accounts a"
    " LEFT JOIN LATERAL ("
    "   SELECT x.debits_posted, x.credits_posted FROM ledger_entries x"
    "   WHERE x.tenant_id = a.tenant_id AND x.account_id = a.id AND x.recorded_at < %s"
    "   ORDER BY x.recorded_at DESC, x.account_version DESC LIMIT 1) o ON true"
    " LEFT JOIN LATERAL ("
    "   SELECT coalesce(sum(x.posted_amount) FILTER (WHERE x.direction = 'debit'), 0) AS debits,"
    "   coalesce(sum(x.posted_amount) FILTER (WHERE x.direction = 'credit'), 0) AS credits,"
    "   count(*) AS n FROM ledger_entries x"
    "   WHERE x.tenant_id = a.tenant_id AND x.account_id = a.id AND x.posted_amount <> 0"
    "   AND x.recorded_at >= %s AND x.recorded_at < %s AND x.account_version <= a.version) s"
    "   ON true"
    " WHERE a.tenant_id = %s AND a.id = %s"
)


async def period_summary(
    *, db: Database, ctx: Context, account_id: uuid.UUID, start: datetime, end: datetime
) -> PeriodSummary:
    """Opening balance, posted sums and entry count of `[start, end)`; one round trip."""
    assert start <= end, "the period is validated at the edge"
    async with db.uow(tenant_id=ctx.tenant_id, single_statement=True) as uow:
        row = await uow.fetch_one(SUMMARY_SQL, (start, start, end, ctx.tenant_id, account_id))
    if row is None:
        raise LedgerAccountNotFound(f"No ledger account {account_id}.")
    normal_side, currency, version, o_debits, o_credits, debits, credits, count = row
    net = (o_debits or 0) - (o_credits or 0)
    return PeriodSummary(
        currency=currency,
        normal_side=normal_side,
        opening=net if normal_side == "debit" else -net,
        credits=int(credits),
        debits=int(debits),
        count=int(count),
        through_version=int(version),
    )


PAGE_SQL = (
    "SELECT e.account_version, e.transfer_id, e.leg, e.direction, e.posted_amount, e.currency,"
    " e.recorded_at, t.effective_at, t.kind, coalesce(t.description, p.description),"
    " ARRAY(SELECT o.account_id FROM ledger_entries o WHERE o.tenant_id = e.tenant_id"
    "   AND o.transfer_id = e.transfer_id AND o.account_id <> e.account_id ORDER BY o.leg)"
    " FROM ledger_entries e"
    " JOIN ledger_transfers t ON t.tenant_id = e.tenant_id AND t.id = e.transfer_id"
    " LEFT JOIN ledger_transfers p ON p.tenant_id = t.tenant_id AND p.id = t.parent_id"
    " WHERE e.tenant_id = %s AND e.account_id = %s AND e.account_version > %s"
    " AND e.account_version <= %s AND e.posted_amount <> 0"
    " AND e.recorded_at >= %s AND e.recorded_at < %s"
    " ORDER BY e.account_version LIMIT %s"
)


async def period_entries(
    *,
    db: Database,
    ctx: Context,
    account_id: uuid.UUID,
    normal_side: str,
    start: datetime,
    end: datetime,
    after_version: int,
    through_version: int,
    limit: int,
) -> list[PeriodEntry]:
    """Up to `limit` posted entries of `[start, end)` after `after_version`, oldest first
    (continue after the last one's `account_version`; fewer than `limit` is the end)."""
    assert 1 <= limit <= MAX_PAGE
    params = (ctx.tenant_id, account_id, after_version, through_version, start, end, limit)
    async with db.uow(tenant_id=ctx.tenant_id, single_statement=True) as uow:
        rows = await uow.fetch_all(PAGE_SQL, params)
    return [
        PeriodEntry(
            account_version=row[0],
            transfer_id=row[1],
            leg=row[2],
            amount=row[4] if row[3] == normal_side else -row[4],
            currency=row[5],
            recorded_at=row[6],
            effective_at=row[7],
            kind=row[8],
            description=row[9],
            counterparts=tuple(row[10]),
        )
        for row in rows
    ]
