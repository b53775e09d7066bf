"""Interest arithmetic: day counts, tiers, daily accrual, rounding with carry, APY/AER.

Pure functions on `Decimal` and `date`; amounts are minor units (a Decimal while accruing,
an integer once posted). Nothing here reads the database, so every rule is tested on worked
examples computed independently (tests/banking/interest/test_calc.py).

Day counts (the fraction of a year a period `[start, end)` is worth):

- `ACT/365F`: actual days / 365, leap years included.
- `ACT/360`: actual days / 360.
- `30/360 ISDA` (2006 ISDA 4.16(f)): 360*(Y2-Y1) + 30*(M2-M1) + (D2-D1), over 360, where
  D1 = 30 when D1 is 31, and D2 = 30 when D2 is 31 and D1 (after adjustment) is 30 or 31.
  So a day's share is 0 on the 31st and 3 days on 28 February (non-leap): every month is
  worth 30 days.
- `ACT/ACT ISDA`: days falling in a leap year / 366 + days in other years / 365.

One day's accrual on day D is `basis balance x annual rate x fraction(D, D+1)`.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Literal

DayCount = Literal["ACT/365F", "ACT/360", "30/360 ISDA", "ACT/ACT ISDA"]
Frequency = Literal["daily", "monthly", "quarterly", "annually"]
Posting = Literal["monthly", "quarterly", "annually"]
DAY_COUNTS: tuple[DayCount, ...] = ("ACT/365F", "ACT/360", "30/360 ISDA", "ACT/ACT ISDA")
# Accruals are kept to 20 decimal places of a minor unit: far below anything a year of
# daily sums could turn into a cent.
ACCRUAL_QUANTUM = Decimal("1e-20")
PRECISION = 50
_PERIODS_PER_YEAR: dict[str, int] = {"monthly": 12, "quarterly": 4, "annually": 1}


def _days_360_isda(start: date, end: date) -> int:
    d1, d2 = start.day, end.day
    if d1 == 31:
        d1 = 30
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def _act_act_isda(start: date, end: date) -> Decimal:
    total = Decimal(0)
    cursor = start
    while cursor < end:
        year_end = date(cursor.year + 1, 1, 1)
        upto = min(end, year_end)
        length = 366 if calendar.isleap(cursor.year) else 365
        total += Decimal((upto - cursor).days) / Decimal(length)
        cursor = upto
    return total


def year_fraction(day_count: DayCount, start: date, end: date) -> Decimal:
    """The fraction of a year `[start, end)` counts for under `day_count`."""
    assert start <= end, "a period runs forward"
    with localcontext() as context:
        context.prec = PRECISION
        if day_count == "ACT/365F":
            return Decimal((end - start).days) / Decimal(365)
        if day_count == "ACT/360":
            return Decimal((end - start).days) / Decimal(360)
        if day_count == "30/360 ISDA":
            return Decimal(_days_360_isda(start, end)) / Decimal(360)
        return _act_act_isda(start, end)


def day_fraction(day_count: DayCount, day: date) -> Decimal:
    """What one day (`day` to the next) is worth: the daily accrual's year fraction."""
    return year_fraction(day_count, day, day + timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Tier:
    """A balance band: balances of at least `from_minor` earn `rate` (whole balance)."""

    from_minor: int
    rate: Decimal


def rate_for(balance: int | Decimal, rate: Decimal | None, tiers: Sequence[Tier]) -> Decimal:
    """The annual rate a credit balance earns: the flat rate, or the rate of the highest
    band whose lower bound the balance reaches (the whole balance earns that band's rate;
    a balance exactly on a boundary is in the upper band)."""
    if not tiers:
        return rate if rate is not None else Decimal(0)
    earned = Decimal(0)
    for tier in sorted(tiers, key=lambda t: t.from_minor):
        if balance >= tier.from_minor:
            earned = tier.rate
    return earned


def accrual_of(basis: Decimal, rate: Decimal, fraction: Decimal) -> Decimal:
    """One day's interest in minor units (signed like `basis`), kept to 20 places."""
    with localcontext() as context:
        context.prec = PRECISION
        return (basis * rate * fraction).quantize(ACCRUAL_QUANTUM, rounding=ROUND_HALF_EVEN)


def round_carry(exact: Decimal, carried: Decimal) -> tuple[int, Decimal]:
    """Post `exact + carried` as whole minor units, half-even; the rest carries on.

    The residue is what the next period starts with, so over any number of postings the
    sum of the posted amounts differs from the exact sum by the last residue only (at most
    half a minor unit)."""
    with localcontext() as context:
        context.prec = PRECISION
        total = exact + carried
        posted = int(total.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
        return posted, total - Decimal(posted)


def withholding_of(gross: int, tax_rate: Decimal) -> int:
    """Tax withheld from a credit posting, half-even to the minor unit (none on debits)."""
    if gross <= 0 or tax_rate == 0:
        return 0
    with localcontext() as context:
        context.prec = PRECISION
        return int((Decimal(gross) * tax_rate).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _period_end(day: date, months: int) -> bool:
    """True when `day` is the last day of a period of `months` months (calendar aligned)."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.day == last and day.month % months == 0


def is_period_end(frequency: Frequency | Posting, day: date) -> bool:
    """True when `day` closes a compounding or posting period (calendar months)."""
    if frequency == "daily":
        return True
    return _period_end(day, 12 // _PERIODS_PER_YEAR[frequency])


def last_period_end(frequency: Frequency, day: date) -> date | None:
    """The latest day strictly before `day` that closed a period of `frequency` (a day at
    most a year back), or None when compounding is daily and `day` has no yesterday."""
    if frequency == "daily":
        return day - timedelta(days=1)
    months = 12 // _PERIODS_PER_YEAR[frequency]
    cursor = date(day.year, day.month, 1) - timedelta(days=1)
    while cursor.month % months != 0:
        cursor = date(cursor.year, cursor.month, 1) - timedelta(days=1)
    return cursor


def periods_per_year(frequency: Frequency) -> int:
    """Compounding periods in a year (daily: 365, the ACT/365F convention)."""
    return 365 if frequency == "daily" else _PERIODS_PER_YEAR[frequency]


def apy(rate: Decimal, compounding: Frequency) -> Decimal:
    """Annual percentage yield (AER) of a nominal annual rate, as a fraction:

        APY = (1 + r / n) ** n - 1

    where r is the nominal annual rate and n the compounding periods per year (12 monthly,
    4 quarterly, 1 annually, 365 daily). It is what a balance left alone for a year earns,
    interest on interest included; 8 decimal places, half-even. A negative or zero rate
    gives the rate itself compounded the same way."""
    n = periods_per_year(compounding)
    with localcontext() as context:
        context.prec = PRECISION
        value = (Decimal(1) + rate / Decimal(n)) ** n - Decimal(1)
        return value.quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clipped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
