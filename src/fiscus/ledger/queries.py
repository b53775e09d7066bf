"""Ledger reads: accounts, balances (now or as of a time), history, transfers, trial balance."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text

from fiscus.access.context import Context
from fiscus.core import clock
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.pagination import (
    MAX_LIMIT,
    cursor_tag,
    decode_cursor,
    encode_cursor,
    keyset_page,
)
from fiscus.ledger.errors import LedgerAccountNotFound, LedgerTransferNotFound
from fiscus.ledger.models import LedgerAccount, LedgerEntry, LedgerTransfer
from fiscus.ledger.schemas import (
    AccountRead,
    BalanceRead,
    EntryRead,
    LegRead,
    TransferRead,
    TrialBalanceLine,
    TrialBalanceRead,
)


def account_read(account: LedgerAccount) -> AccountRead:
    """The API view of an account row."""
    flags = [
        name
        for name, on in (
            ("debits_must_not_exceed_credits", account.debits_must_not_exceed_credits),
            ("credits_must_not_exceed_debits", account.credits_must_not_exceed_debits),
            ("closed", account.closed_at is not None),
        )
        if on
    ]
    return AccountRead(
        id=account.id,
        code=account.code,
        name=account.name,
        currency=account.currency,
        type=account.type,
        normal_side=account.normal_side,
        flags=flags,
        overdraft_limit=account.overdraft_limit,
        metadata=account.metadata_,
        debits_pending=account.debits_pending,
        debits_posted=account.debits_posted,
        credits_pending=account.credits_pending,
        credits_posted=account.credits_posted,
        version=account.version,
        created_at=account.created_at,
        closed_at=account.closed_at,
    )


async def account_get(*, db: Database, ctx: Context, account_id: uuid.UUID) -> AccountRead:
    """One account of the tenant, or LedgerAccountNotFound."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        account = await uow.session.get(LedgerAccount, (ctx.tenant_id, account_id))
        if account is None:
            raise LedgerAccountNotFound(f"No ledger account {account_id}.")
        return account_read(account)


async def account_list(
    *, db: Database, ctx: Context, limit: int, cursor: str | None
) -> tuple[list[AccountRead], str | None]:
    """The tenant's accounts by id."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[LedgerAccount]
        rows, next_cursor = await keyset_page(
            uow.session,
            select(LedgerAccount).where(LedgerAccount.tenant_id == ctx.tenant_id),
            keys=[LedgerAccount.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda account: [str(account.id)],
        )
    return [account_read(row) for row in rows], next_cursor


@dataclass(frozen=True, slots=True)
class _Balances:
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


def signed_balance(normal_side: str, b: _Balances | LedgerAccount | LedgerEntry) -> int:
    """Posted balance, positive on the account's normal side."""
    net = b.debits_posted - b.credits_posted
    return net if normal_side == "debit" else -net


def _balance_read(
    account_id: uuid.UUID,
    currency: str,
    normal_side: str,
    overdraft_limit: int | None,
    b: _Balances,
    as_of: datetime,
) -> BalanceRead:
    balance = signed_balance(normal_side, b)
    # Pending amounts leaving the normal side are already spoken for; pending arrivals
    # are not yet usable. The limit adds room on limited accounts.
    held = b.debits_pending if normal_side == "credit" else b.credits_pending
    return BalanceRead(
        account_id=account_id,
        currency=currency,
        debits_posted=b.debits_posted,
        credits_posted=b.credits_posted,
        debits_pending=b.debits_pending,
        credits_pending=b.credits_pending,
        balance=balance,
        available=balance - held + (overdraft_limit or 0),
        as_of=as_of,
    )


BALANCE_NOW_SQL = (
    "SELECT a.id, a.currency, a.normal_side, a.overdraft_limit, a.debits_pending,"
    " a.debits_posted, a.credits_pending, a.credits_posted, NULL, NULL, NULL, NULL, false"
    " FROM ledger_accounts a WHERE a.tenant_id = %s AND a.id = %s"
)
BALANCE_SQL = (
    "SELECT a.id, a.currency, a.normal_side, a.overdraft_limit, a.debits_pending,"
    " a.debits_posted, a.credits_pending, a.credits_posted, e.debits_pending, e.debits_posted,"
    " e.credits_pending, e.credits_posted, %s::timestamptz IS NOT NULL"
    " FROM ledger_accounts a LEFT JOIN LATERAL ("
    "   SELECT x.debits_pending, x.debits_posted, x.credits_pending, x.credits_posted"
    "   FROM ledger_entries x WHERE x.tenant_id = a.tenant_id AND x.account_id = a.id"
    "   AND x.recorded_at <= %s::timestamptz"
    "   ORDER BY x.recorded_at DESC, x.account_version DESC LIMIT 1) e ON true"
    " WHERE a.tenant_id = %s AND a.id = %s"
)


async def balance_get(
    *, db: Database, ctx: Context, account_id: uuid.UUID, as_of: datetime | None = None
) -> BalanceRead:
    """Balances now (the account row), or as they were at `as_of` (the last entry recorded
    by then: one index lookup); one round trip either way."""
    params: tuple[Any, ...]
    if as_of is None:
        sql, params = BALANCE_NOW_SQL, (ctx.tenant_id, account_id)
    else:
        sql, params = BALANCE_SQL, (as_of, as_of, ctx.tenant_id, account_id)
    async with db.uow(tenant_id=ctx.tenant_id, single_statement=True) as uow:
        row = await uow.fetch_one(sql, params)
    if row is None:
        raise LedgerAccountNotFound(f"No ledger account {account_id}.")
    _, currency, normal_side, limit, *now_balances = row[:8]
    then = row[8:12]
    if not row[12]:
        balances = _Balances(*now_balances)
    elif then[0] is None:  # nothing recorded on the account by then
        balances = _Balances(0, 0, 0, 0)
    else:
        balances = _Balances(*then)
    return _balance_read(account_id, currency, normal_side, limit, balances, as_of or clock.now())


async def balance_in(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> BalanceRead:
    """Balances now, read inside the caller's unit of work (so they include its own
    uncommitted postings): for use cases that decide on the balance they just changed."""
    assert uow.active, "read inside the use case's unit of work"
    row = await uow.fetch_one(BALANCE_NOW_SQL, (tenant_id, account_id))
    if row is None:
        raise LedgerAccountNotFound(f"No ledger account {account_id}.")
    _, currency, normal_side, limit, *balances = row[:8]
    return _balance_read(
        account_id, currency, normal_side, limit, _Balances(*balances), clock.now()
    )


# Posted balances of many accounts as of a moment: each account's last entry recorded by
# then (one index lookup per account, ix_ledger_entries_account_recorded_at).
BALANCES_AS_OF_SQL = (
    "SELECT a.id, a.normal_side, COALESCE(e.debits_posted, 0), COALESCE(e.credits_posted, 0)"
    " FROM ledger_accounts a LEFT JOIN LATERAL ("
    "   SELECT x.debits_posted, x.credits_posted"
    "   FROM ledger_entries x WHERE x.tenant_id = a.tenant_id AND x.account_id = a.id"
    "   AND x.recorded_at <= %s::timestamptz"
    "   ORDER BY x.recorded_at DESC, x.account_version DESC LIMIT 1) e ON true"
    " WHERE a.tenant_id = %s AND a.id = ANY(%s)"
)
MAX_BALANCES_AS_OF = 5_000


async def balances_as_of_in(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, account_ids: list[uuid.UUID], as_of: datetime
) -> dict[uuid.UUID, int]:
    """Posted balances (signed by each account's normal side) as they were at `as_of`, for
    up to 5,000 accounts in one round trip; accounts not found are absent."""
    assert uow.active, "read inside the use case's unit of work"
    assert len(account_ids) <= MAX_BALANCES_AS_OF, "read balances in batches"
    if not account_ids:
        return {}
    rows = await uow.fetch_all(BALANCES_AS_OF_SQL, (as_of, tenant_id, account_ids))
    return {row[0]: signed_balance(row[1], _Balances(0, row[2], 0, row[3])) for row in rows}


# The account's side and one page of its entries (newest first), one statement: a row with
# NULL entry columns when the account has none past the cursor, no row when there is no
# such account (for this tenant).
ENTRIES_PAGE_SQL = (
    "SELECT a.normal_side, e.transfer_id, e.leg, e.direction, e.posted_amount,"
    " e.pending_amount, e.currency, e.account_version, e.debits_pending, e.debits_posted,"
    " e.credits_pending, e.credits_posted, e.recorded_at"
    " FROM ledger_accounts a LEFT JOIN LATERAL ("
    "   SELECT x.transfer_id, x.leg, x.direction, x.posted_amount, x.pending_amount,"
    "   x.currency, x.account_version, x.debits_pending, x.debits_posted,"
    "   x.credits_pending, x.credits_posted, x.recorded_at"
    "   FROM ledger_entries x WHERE x.tenant_id = a.tenant_id AND x.account_id = a.id"
    "   AND x.account_version < %s"
    "   AND x.recorded_at >= COALESCE(%s::timestamptz, '-infinity')"
    "   AND x.recorded_at < COALESCE(%s::timestamptz, 'infinity')"
    "   ORDER BY x.account_version DESC LIMIT %s) e ON true"
    " WHERE a.tenant_id = %s AND a.id = %s ORDER BY e.account_version DESC"
)
_ENTRY_KEYS = [LedgerEntry.__table__.c.account_version]
_AFTER_NEWEST = 2**63 - 1  # above every account_version (bigint)


async def entries_page(
    *,
    db: Database,
    ctx: Context,
    account_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    recorded_from: datetime | None = None,
    recorded_before: datetime | None = None,
) -> tuple[list[EntryRead], str | None]:
    """An account's entries, newest first, each with the running balance after it; one
    round trip (the account's existence and side come with the page). `recorded_from`
    (inclusive) and `recorded_before` (exclusive) narrow it to a period."""
    assert 1 <= limit <= MAX_LIMIT, "limit is validated at the edge"
    before = _AFTER_NEWEST if cursor is None else decode_cursor(cursor, keys=_ENTRY_KEYS)[0]
    async with db.uow(tenant_id=ctx.tenant_id, single_statement=True) as uow:
        rows = await uow.fetch_all(
            ENTRIES_PAGE_SQL,
            (before, recorded_from, recorded_before, limit + 1, ctx.tenant_id, account_id),
        )
    if not rows:
        raise LedgerAccountNotFound(f"No ledger account {account_id}.")
    normal_side = rows[0][0]
    entries = [
        EntryRead(
            transfer_id=row[1],
            leg=row[2],
            direction=row[3],
            posted_amount=row[4],
            pending_amount=row[5],
            currency=row[6],
            account_version=row[7],
            debits_pending=row[8],
            debits_posted=row[9],
            credits_pending=row[10],
            credits_posted=row[11],
            balance=signed_balance(normal_side, _Balances(*row[8:12])),
            recorded_at=row[12],
        )
        for row in rows
        if row[1] is not None
    ]
    if len(entries) <= limit:
        return entries, None
    entries = entries[:limit]
    return entries, encode_cursor([entries[-1].account_version], tag=cursor_tag(_ENTRY_KEYS))


async def transfer_get(*, db: Database, ctx: Context, transfer_id: uuid.UUID) -> TransferRead:
    """One transfer with its legs."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        transfer = await uow.session.get(LedgerTransfer, (ctx.tenant_id, transfer_id))
        if transfer is None:
            raise LedgerTransferNotFound(f"No transfer {transfer_id}.")
        entries = (
            await uow.session.execute(
                select(LedgerEntry)
                .where(
                    LedgerEntry.tenant_id == ctx.tenant_id, LedgerEntry.transfer_id == transfer_id
                )
                .order_by(LedgerEntry.leg)
            )
        ).scalars()
        legs = [
            LegRead(
                account_id=e.account_id,
                direction=e.direction,
                amount=e.posted_amount or abs(e.pending_amount),
                currency=e.currency,
            )
            for e in entries
        ]
    return TransferRead(
        id=transfer.id,
        kind=transfer.kind,
        status=transfer.status,
        currency=transfer.currency,
        amount=transfer.amount,
        legs=legs,
        pending=transfer.pending,
        parent_id=transfer.parent_id,
        timeout_at=transfer.timeout_at,
        effective_at=transfer.effective_at,
        recorded_at=transfer.recorded_at,
        description=transfer.description,
        metadata=transfer.metadata_,
        fx=transfer.fx,
    )


async def trial_balance(*, db: Database, ctx: Context) -> TrialBalanceRead:
    """Per currency, the sum of every account's debits and credits (they must be equal)."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows = (
            await uow.session.execute(
                select(
                    LedgerAccount.currency,
                    func.sum(LedgerAccount.debits_posted),
                    func.sum(LedgerAccount.credits_posted),
                    func.sum(LedgerAccount.debits_pending),
                    func.sum(LedgerAccount.credits_pending),
                )
                .where(LedgerAccount.tenant_id == ctx.tenant_id)
                .group_by(LedgerAccount.currency)
                .order_by(LedgerAccount.currency)
            )
        ).all()
    lines = [
        TrialBalanceLine(
            currency=currency,
            debits_posted=int(dp),
            credits_posted=int(cp),
            debits_pending=int(dq),
            credits_pending=int(cq),
            balanced=dp == cp and dq == cq,
        )
        for currency, dp, cp, dq, cq in rows
    ]
    return TrialBalanceRead(balanced=all(line.balanced for line in lines), currencies=lines)


@dataclass(frozen=True, slots=True)
class Difference:
    """An account whose stored balances differ from the sum of its entries."""

    tenant_id: uuid.UUID
    account_id: uuid.UUID
    stored: tuple[int, int, int, int]
    from_entries: tuple[int, int, int, int]


VERIFY_SQL = """
SELECT a.tenant_id, a.id, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
       coalesce(e.dq, 0), coalesce(e.dp, 0), coalesce(e.cq, 0), coalesce(e.cp, 0)
  FROM ledger_accounts a
  LEFT JOIN LATERAL (
    SELECT sum(pending_amount) FILTER (WHERE direction = 'debit') AS dq,
           sum(posted_amount) FILTER (WHERE direction = 'debit') AS dp,
           sum(pending_amount) FILTER (WHERE direction = 'credit') AS cq,
           sum(posted_amount) FILTER (WHERE direction = 'credit') AS cp
      FROM ledger_entries x WHERE x.tenant_id = a.tenant_id AND x.account_id = a.id) e ON true
 WHERE (a.tenant_id, a.id) > (:tenant, :after)
 ORDER BY a.tenant_id, a.id
 LIMIT :batch
"""


async def ledger_verify_chunk(
    *, db: Database, after: tuple[uuid.UUID, uuid.UUID], batch: int
) -> tuple[int, list[Difference], tuple[uuid.UUID, uuid.UUID] | None]:
    """Recompute `batch` accounts (all tenants, in key order) from their entries.

    Returns how many were checked, the differences, and the key to continue after (None
    at the end). Runs without a tenant: verification spans every tenant.
    """
    assert 1 <= batch <= 10_000
    async with db.uow() as uow:
        rows: list[Any] = list(
            await uow.session.execute(
                text(VERIFY_SQL), {"tenant": after[0], "after": after[1], "batch": batch}
            )
        )
    differences = [
        Difference(row[0], row[1], tuple(row[2:6]), tuple(int(v) for v in row[6:10]))  # type: ignore[arg-type]
        for row in rows
        if tuple(row[2:6]) != tuple(int(v) for v in row[6:10])
    ]
    last = (rows[-1][0], rows[-1][1]) if len(rows) == batch else None
    return len(rows), differences, last


async def ledger_account_count(*, db: Database) -> int:
    """Number of ledger accounts over every tenant (for progress bars)."""
    async with db.uow() as uow:
        return int(
            (await uow.session.execute(text("SELECT count(*) FROM ledger_accounts"))).scalar_one()
        )


async def trial_balance_all(*, db: Database) -> list[tuple[uuid.UUID, str, int, int, int, int]]:
    """Trial balance of every tenant and currency (for the CLI)."""
    async with db.uow() as uow:
        rows = await uow.session.execute(
            text(
                "SELECT tenant_id, currency, sum(debits_posted), sum(credits_posted),"
                " sum(debits_pending), sum(credits_pending) FROM ledger_accounts"
                " GROUP BY tenant_id, currency ORDER BY tenant_id, currency"
            )
        )
        return [(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]
