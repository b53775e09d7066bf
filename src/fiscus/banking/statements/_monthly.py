"""Monthly statements: closed for the previous month by a daily job, listed per account.

A record keeps the period and its totals; the file is generated again from the ledger
when it is downloaded (a past month's entries never change), so nothing sealed is stored.
Closing a month is idempotent (one record per account and month); the customer's portal
users are told through the event `banking.statement.ready`, which messaging turns into an
email and/or in-app message with the download link, by each user's preferences.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from fiscus.access.context import Context
from fiscus.access.queries import tenant_ids_active
from fiscus.banking.models import BankAccount, BankCustomerUser
from fiscus.banking.queries import account_brief
from fiscus.banking.service import business_date_get
from fiscus.banking.statements._source import period_bounds
from fiscus.banking.statements.models import BankStatement
from fiscus.banking.statements.schemas import BankStatementRead
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.events import emit
from fiscus.core.ids import new_id
from fiscus.core.pagination import keyset_page
from fiscus.ledger.periods import period_summary

ACCOUNTS_PER_BATCH = 200
MAX_ACCOUNTS_PER_RUN = 100_000  # a bound on one run; the next run continues
READY = "banking.statement.ready"


def previous_month(day: date) -> tuple[date, date]:
    """The first and last day of the month before `day`'s."""
    last = day.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def download_path(account_id: uuid.UUID, start: date, end: date) -> str:
    """The statement route for a period, as PDF."""
    return f"/v1/accounts/{account_id}/statement?from={start}&to={end}&format=pdf"


def statement_read(row: BankStatement) -> BankStatementRead:
    """The API view of a record."""
    return BankStatementRead(
        id=row.id,
        account_id=row.account_id,
        period_start=row.period_start,
        period_end=row.period_end,
        currency=row.currency,
        opening=row.opening,
        money_in=row.money_in,
        money_out=row.money_out,
        closing=row.closing,
        entry_count=row.entry_count,
        created_at=row.created_at,
        download=download_path(row.account_id, row.period_start, row.period_end),
    )


@dataclass(slots=True)
class MonthReport:
    """What a run did: accounts looked at and statements created."""

    accounts: int = 0
    created: int = 0


async def _accounts_batch(
    db: Database, tenant_id: uuid.UUID, after: uuid.UUID | None, start: date, end: date
) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, str]]:
    period_start, period_end = period_bounds(start, end)
    stmt = (
        select(
            BankAccount.id,
            BankAccount.customer_id,
            BankAccount.ledger_account_id,
            BankAccount.currency,
        )
        .where(
            BankAccount.tenant_id == tenant_id,
            BankAccount.created_at < period_end,
            (BankAccount.closed_at.is_(None)) | (BankAccount.closed_at >= period_start),
        )
        .order_by(BankAccount.id)
        .limit(ACCOUNTS_PER_BATCH)
    )
    if after is not None:
        stmt = stmt.where(BankAccount.id > after)
    async with db.uow(tenant_id=tenant_id) as uow:
        rows = (await uow.session.execute(stmt)).all()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


async def _close_one(
    db: Database,
    ctx: Context,
    account: tuple[uuid.UUID, uuid.UUID, uuid.UUID, str],
    start: date,
    end: date,
) -> bool:
    account_id, customer_id, ledger_account_id, currency = account
    period_start, period_end = period_bounds(start, end)
    summary = await period_summary(
        db=db, ctx=ctx, account_id=ledger_account_id, start=period_start, end=period_end
    )
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        statement_id = (
            await uow.session.execute(
                insert(BankStatement)
                .values(
                    tenant_id=ctx.tenant_id,
                    id=new_id(),
                    account_id=account_id,
                    customer_id=customer_id,
                    period_start=start,
                    period_end=end,
                    currency=currency,
                    opening=summary.opening,
                    money_in=summary.money_in,
                    money_out=summary.money_out,
                    closing=summary.closing,
                    entry_count=summary.count,
                    created_at=clock.now(),
                )
                .on_conflict_do_nothing()
                .returning(BankStatement.id)
            )
        ).scalar_one_or_none()
        if statement_id is None:
            return False  # closed by an earlier (or concurrent) run
        users = (
            await uow.session.execute(
                select(BankCustomerUser.user_id)
                .where(
                    BankCustomerUser.tenant_id == ctx.tenant_id,
                    BankCustomerUser.customer_id == customer_id,
                )
                .order_by(BankCustomerUser.user_id)
            )
        ).scalars()
        await emit(
            uow,
            tenant_id=ctx.tenant_id,
            type=READY,
            subject=str(account_id),
            payload={
                "statement_id": str(statement_id),
                "account_id": str(account_id),
                "customer_id": str(customer_id),
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
                "currency": currency,
                "opening": summary.opening,
                "closing": summary.closing,
                "download": download_path(account_id, start, end),
                "user_ids": [str(user) for user in users],
            },
        )
    return True


async def statements_month_close(
    db: Database, *, tenant_id: uuid.UUID, month_start: date | None = None
) -> MonthReport:
    """Create the statement of month `month_start` (default: the month before the tenant's
    business date) for every account open during it; safe to run again."""
    ctx = Context.system(tenant_id, permissions=frozenset())
    if month_start is None:
        start, end = previous_month(await business_date_get(db, ctx))
    else:
        start = month_start.replace(day=1)
        end = previous_month((start + timedelta(days=31)).replace(day=1))[1]
    report, after = MonthReport(), None
    while report.accounts < MAX_ACCOUNTS_PER_RUN:
        batch = await _accounts_batch(db, tenant_id, after, start, end)
        for account in batch:
            report.accounts += 1
            report.created += await _close_one(db, ctx, account, start, end)
        if len(batch) < ACCOUNTS_PER_BATCH:
            break
        after = batch[-1][0]
    return report


async def statements_month_close_all(db: Database) -> MonthReport:
    """Close the previous month in every active tenant (the daily job)."""
    async with db.uow() as uow:
        tenant_ids = await tenant_ids_active(uow)
    total = MonthReport()
    for tenant_id in tenant_ids:
        done = await statements_month_close(db, tenant_id=tenant_id)
        total.accounts += done.accounts
        total.created += done.created
    return total


async def statement_list(
    db: Database, ctx: Context, *, account_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[BankStatementRead], str | None]:
    """An account's monthly statements (one the caller may see, else 404), newest first."""
    await account_brief(db, ctx, account_id=account_id)
    stmt = select(BankStatement).where(
        BankStatement.tenant_id == ctx.tenant_id, BankStatement.account_id == account_id
    )
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        rows: list[BankStatement]
        rows, next_cursor = await keyset_page(
            uow.session,
            stmt,
            keys=[BankStatement.__table__.c.id],
            cursor=cursor,
            limit=limit,
            key_of=lambda row: [str(row.id)],
            descending=True,
        )
    return [statement_read(row) for row in rows], next_cursor
