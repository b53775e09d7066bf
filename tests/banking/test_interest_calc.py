"""Interest arithmetic on worked examples computed independently here (exact fractions,
half-even rounding written out by hand): day counts and their edge cases, tiers, rounding
with residue carried over a year of postings, a rate change mid-period, APY."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from fiscus.banking.interest.accrual import NO_ACCRUALS, RateSet, accrue_one
from fiscus.banking.interest.calc import (
    Tier,
    accrual_of,
    apy,
    day_fraction,
    is_period_end,
    last_period_end,
    rate_for,
    round_carry,
    withholding_of,
    year_fraction,
)
from fiscus.banking.interest.schemas import InterestTerms


def _half_even(value: Fraction) -> int:
    """Round a fraction to an integer, ties to even (independent of Decimal)."""
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


def _near(value: Decimal, expected: Fraction) -> bool:
    """Equal to 40 decimal places (the calculator keeps 50 significant digits)."""
    return abs(Fraction(value) - expected) < Fraction(1, 10**40)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days)]


def _accrue_month(balance: int, rate: str, day_count: str, year: int, month: int) -> Decimal:
    """What the calculator accrues day by day over a month on a constant balance."""
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    return sum(
        (
            accrual_of(Decimal(balance), Decimal(rate), day_fraction(day_count, day))  # type: ignore[arg-type]
            for day in _days(first, last + timedelta(days=1))
        ),
        Decimal(0),
    )


def test_ten_thousand_at_3_5_percent_act_365f_compounded_monthly_over_a_leap_year() -> None:
    # Expected, independently: each month earns balance * 0.035 * days / 365 exactly; the
    # posting rounds half-even with the residue carried; the posting compounds.
    balance, residue, expected_postings = 1_000_000, Fraction(0), []
    for month in range(1, 13):
        days = calendar.monthrange(2028, month)[1]
        exact = Fraction(balance) * Fraction(35, 1000) * Fraction(days, 365) + residue
        posted = _half_even(exact)
        residue = exact - posted
        expected_postings.append(posted)
        balance += posted
    # The calculator: daily accruals summed per month, posted with round_carry.
    got, balance_got, carried = [], 1_000_000, Decimal(0)
    for month in range(1, 13):
        posted, carried = round_carry(
            _accrue_month(balance_got, "0.035", "ACT/365F", 2028, month), carried
        )
        got.append(posted)
        balance_got += posted
    assert got == expected_postings
    assert got[0] == 2973  # January: 1,000,000 * 0.035 * 31 / 365 = 2972.60...
    assert got[1] == 2789  # February 2028 has 29 days: (1,002,973) * 0.035 * 29/365 = 2789.0..
    assert balance_got == balance
    # A leap year under ACT/365F is worth 366/365 of a year: more than the nominal APY.
    assert sum(got) == 35_666
    assert abs(Fraction(sum(got), 1_000_000) - Fraction("0.035566")) < Fraction(1, 1000)


def test_residue_carried_over_12_postings_equals_the_exact_yearly_figure() -> None:
    # A constant 12,345.67 at 2.7 % ACT/360: each month's exact interest has a fraction of
    # a cent; carried on, the year posts the exact yearly figure rounded once.
    balance = 1_234_567
    carried, posted_total, exact_total = Decimal(0), 0, Fraction(0)
    for month in range(1, 13):
        accrued = _accrue_month(balance, "0.027", "ACT/360", 2027, month)
        posted, carried = round_carry(accrued, carried)
        posted_total += posted
        days = calendar.monthrange(2027, month)[1]
        exact_total += Fraction(balance) * Fraction(27, 1000) * Fraction(days, 360)
        assert abs(carried) <= Decimal("0.5")
    assert posted_total == _half_even(exact_total)
    # Without the carry, rounding each month alone loses or invents money over the year.
    alone = sum(
        _half_even(
            Fraction(balance) * Fraction(27, 1000)
            * Fraction(calendar.monthrange(2027, m)[1], 360)
        )
        for m in range(1, 13)
    )  # fmt: skip
    assert alone != posted_total


def test_act_365f_and_act_360_count_29_february_as_a_day() -> None:
    assert _near(day_fraction("ACT/365F", date(2028, 2, 29)), Fraction(1, 365))
    assert _near(day_fraction("ACT/360", date(2028, 2, 29)), Fraction(1, 360))
    assert _near(year_fraction("ACT/365F", date(2028, 1, 1), date(2029, 1, 1)), Fraction(366, 365))
    assert _near(year_fraction("ACT/360", date(2028, 2, 1), date(2028, 3, 1)), Fraction(29, 360))


def test_30_360_isda_month_ends() -> None:
    def f(day: date) -> int:
        days = Fraction(day_fraction("30/360 ISDA", day)) * 360
        assert days.denominator == 1 or abs(days - round(days)) < Fraction(1, 10**40)
        return round(days)

    assert f(date(2027, 1, 30)) == 0  # the 31st is day 30 again
    assert f(date(2027, 1, 31)) == 1
    assert f(date(2027, 2, 28)) == 3  # 28 Feb -> 1 Mar: the month is still worth 30 days
    assert f(date(2028, 2, 28)) == 1  # leap year: 28 -> 29 Feb
    assert f(date(2028, 2, 29)) == 2
    for year in (2027, 2028):
        for month in range(1, 13):
            first = date(year, month, 1)
            following = date(year + month // 12, month % 12 + 1, 1)
            assert sum(f(d) for d in _days(first, following)) == 30, (year, month)
    assert _near(year_fraction("30/360 ISDA", date(2027, 1, 31), date(2027, 3, 31)), Fraction(1, 6))


def test_act_act_isda_splits_a_period_across_a_year_boundary() -> None:
    got = year_fraction("ACT/ACT ISDA", date(2027, 12, 15), date(2028, 1, 15))
    assert _near(got, Fraction(17, 365) + Fraction(14, 366))
    assert _near(day_fraction("ACT/ACT ISDA", date(2027, 12, 31)), Fraction(1, 365))
    assert _near(day_fraction("ACT/ACT ISDA", date(2028, 2, 29)), Fraction(1, 366))
    total = sum(
        Fraction(day_fraction("ACT/ACT ISDA", d)) for d in _days(date(2028, 1, 1), date(2029, 1, 1))
    )
    assert abs(total - 1) < Fraction(1, 10**38)


def test_tier_boundaries_put_a_balance_on_a_bound_in_the_upper_band() -> None:
    tiers = [Tier(0, Decimal("0.01")), Tier(1_000_000, Decimal("0.02")),
             Tier(5_000_000, Decimal("0.03"))]  # fmt: skip
    assert rate_for(999_999, None, tiers) == Decimal("0.01")
    assert rate_for(1_000_000, None, tiers) == Decimal("0.02")
    assert rate_for(4_999_999, None, tiers) == Decimal("0.02")
    assert rate_for(5_000_000, None, tiers) == Decimal("0.03")
    assert rate_for(Decimal("999999.5"), None, tiers) == Decimal("0.01")
    assert rate_for(10, Decimal("0.04"), []) == Decimal("0.04")


def test_a_rate_change_mid_month_applies_from_its_day() -> None:
    terms = InterestTerms(day_count="ACT/365F")
    before = NO_ACCRUALS
    total = Decimal(0)
    for day in _days(date(2027, 4, 1), date(2027, 5, 1)):
        rate = Decimal("0.03") if day.day < 16 else Decimal("0.04")
        *_, amount = accrue_one(
            terms, RateSet(rate, (), Decimal(0)), ledger_balance=730_000, before=before, day=day
        )
        total += amount
    expected = Fraction(730_000) * (Fraction(3, 100) * 15 + Fraction(4, 100) * 15) / 365
    assert abs(Fraction(total) - expected) < Fraction(1, 10**15)
    assert round_carry(total, Decimal(0))[0] == _half_even(expected) == 2100


def test_minimum_balance_and_overdraft_rate() -> None:
    terms = InterestTerms(minimum_balance=100_000)
    nothing = NO_ACCRUALS
    rates = RateSet(Decimal("0.05"), (), Decimal("0.146"))
    *_, below = accrue_one(
        terms, rates, ledger_balance=99_999, before=nothing, day=date(2027, 1, 1)
    )
    assert below == 0
    *_, owed = accrue_one(
        terms, rates, ledger_balance=-36_500, before=nothing, day=date(2027, 1, 1)
    )
    assert owed == Decimal("-14.6")  # 365.00 overdrawn at 14.6 %: 0.146 a day... in cents


def test_withholding_and_half_even_rounding() -> None:
    assert round_carry(Decimal("2.5"), Decimal(0)) == (2, Decimal("0.5"))
    assert round_carry(Decimal("2.5"), Decimal("0.5")) == (3, Decimal(0))
    assert round_carry(Decimal("3.5"), Decimal(0)) == (4, Decimal("-0.5"))
    assert withholding_of(2973, Decimal("0.25")) == 743  # 743.25
    assert withholding_of(2, Decimal("0.25")) == 0  # 0.5 -> 0 (half-even)
    assert withholding_of(6, Decimal("0.25")) == 2  # 1.5 -> 2
    assert withholding_of(0, Decimal("0.25")) == 0


def test_apy_formula_per_compounding() -> None:
    monthly = (1 + Fraction(35, 1000) / 12) ** 12 - 1
    assert abs(Fraction(apy(Decimal("0.035"), "monthly")) - monthly) < Fraction(1, 10**8)
    assert apy(Decimal("0.035"), "annually") == Decimal("0.035")
    quarterly = (1 + Fraction(35, 1000) / 4) ** 4 - 1
    assert abs(Fraction(apy(Decimal("0.035"), "quarterly")) - quarterly) < Fraction(1, 10**8)
    assert apy(Decimal("0.035"), "daily") > apy(Decimal("0.035"), "monthly")


def test_period_ends_and_compounding_boundaries() -> None:
    assert is_period_end("monthly", date(2028, 2, 29))
    assert not is_period_end("monthly", date(2028, 2, 28))
    assert is_period_end("quarterly", date(2027, 6, 30))
    assert not is_period_end("quarterly", date(2027, 5, 31))
    assert is_period_end("annually", date(2027, 12, 31))
    assert last_period_end("monthly", date(2027, 3, 1)) == date(2027, 2, 28)
    assert last_period_end("monthly", date(2027, 3, 15)) == date(2027, 2, 28)
    assert last_period_end("quarterly", date(2027, 3, 15)) == date(2026, 12, 31)
    assert last_period_end("annually", date(2027, 12, 31)) == date(2026, 12, 31)
    assert last_period_end("daily", date(2027, 3, 1)) == date(2027, 2, 28)
