"""A statement's numbers: the account, the period's summary, then its lines page by page.

Banking keeps no balance: the opening balance and the period's sums are the ledger's
(`ledger.periods`), and each line's running balance is the opening plus the lines before
it, so that opening + in - out = closing holds in every format by construction.
"""

from __future__ import annotations

import base64
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from fiscus.access.context import Context
from fiscus.access.queries import tenant_get
from fiscus.banking.queries import account_get, settings_get
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.errors import ValidationProblem
from fiscus.ledger.periods import period_entries, period_summary
from fiscus.reports import Branding

PAGE_SIZE = 1_000
MAX_PERIOD_DAYS = 3_660  # ten years: a longer range is refused, not read
KIND_WORDS = {
    "transfer": "Transfer",
    "post_pending": "Payment",
    "reversal": "Reversal",
}


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One posted entry: + money in, - money out, and the balance right after it."""

    booking_date: date
    value_date: date
    description: str
    transfer_id: uuid.UUID
    reference: str  # the entry's number on the account (its ledger version): short, unique
    amount: int
    balance: int


@dataclass(frozen=True, slots=True)
class Statement:
    """An account over `[start, end]` (whole days, UTC): who, what, and the totals."""

    account_id: uuid.UUID
    ledger_account_id: uuid.UUID
    customer_id: uuid.UUID
    iban: str
    bank_code: str
    nickname: str | None
    currency: str
    start: date
    end: date
    created_at: datetime
    branding: Branding
    opening: int
    money_in: int
    money_out: int
    count: int
    normal_side: str
    through_version: int

    @property
    def closing(self) -> int:
        """Opening plus money in less money out."""
        return self.opening + self.money_in - self.money_out

    @property
    def reference(self) -> str:
        """A statement id (at most 35 characters, as ISO 20022 and MT940 need)."""
        return f"{self.start:%Y%m%d}{self.end:%Y%m%d}{self.account_id.hex[-16:]}"


def printable(text: str | None) -> str:
    """`text` without control characters (which XML 1.0 and XLSX cannot hold), trimmed."""
    if not text:
        return ""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text).strip()


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """`[start 00:00, end + 1 day 00:00)` in UTC; ValidationProblem for a reversed or
    over-long range."""
    if end < start:
        raise ValidationProblem("`to` is before `from`.", field="to")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise ValidationProblem(f"A statement covers at most {MAX_PERIOD_DAYS} days.", field="to")
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
    )


async def branding_of(db: Database, ctx: Context) -> Branding:
    """The tenant's name, colour and logo for its documents."""
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        tenant = await tenant_get(uow, tenant_id=ctx.tenant_id)
    settings = tenant.settings
    logo = base64.b64decode(settings.brand_logo_png) if settings.brand_logo_png else None
    if settings.brand_colour:
        return Branding(name=tenant.name, colour=settings.brand_colour, logo_png=logo)
    return Branding(name=tenant.name, logo_png=logo)


async def statement_open(
    db: Database, ctx: Context, *, account_id: uuid.UUID, start: date, end: date
) -> Statement:
    """The statement's header and totals (an account the caller may see, or 404)."""
    period_start, period_end = period_bounds(start, end)
    account = await account_get(db, ctx, account_id=account_id)
    _, bank_code, _ = await settings_get(db, ctx)
    summary = await period_summary(
        db=db, ctx=ctx, account_id=account.ledger_account_id, start=period_start, end=period_end
    )
    return Statement(
        account_id=account.id,
        ledger_account_id=account.ledger_account_id,
        customer_id=account.customer_id,
        iban=account.iban,
        bank_code=bank_code,
        nickname=account.nickname,
        currency=account.currency,
        start=start,
        end=end,
        created_at=clock.now(),
        branding=await branding_of(db, ctx),
        opening=summary.opening,
        money_in=summary.money_in,
        money_out=summary.money_out,
        count=summary.count,
        normal_side=summary.normal_side,
        through_version=summary.through_version,
    )


async def statement_pages(
    db: Database, ctx: Context, statement: Statement, *, page_size: int = PAGE_SIZE
) -> AsyncIterator[list[StatementLine]]:
    """The statement's lines, oldest first, a page (one round trip) at a time."""
    period_start, period_end = period_bounds(statement.start, statement.end)
    after, balance = 0, statement.opening
    while True:
        entries = await period_entries(
            db=db,
            ctx=ctx,
            account_id=statement.ledger_account_id,
            normal_side=statement.normal_side,
            start=period_start,
            end=period_end,
            after_version=after,
            through_version=statement.through_version,
            limit=page_size,
        )
        page: list[StatementLine] = []
        for entry in entries:
            balance += entry.amount
            page.append(
                StatementLine(
                    booking_date=entry.recorded_at.astimezone(UTC).date(),
                    value_date=entry.effective_at.astimezone(UTC).date(),
                    description=printable(entry.description)
                    or KIND_WORDS.get(entry.kind, entry.kind.replace("_", " ").capitalize()),
                    transfer_id=entry.transfer_id,
                    reference=str(entry.account_version),
                    amount=entry.amount,
                    balance=balance,
                )
            )
        if page:
            yield page
        if len(entries) < page_size:
            return
        after = entries[-1].account_version
