"""Recurrence rules of standing orders: month ends, leap years, end dates, counts."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from itertools import islice, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fiscus.banking.schedule import (
    LAST_DAY,
    MAX_DUE_DATES,
    Frequency,
    Recurrence,
    due_dates,
    is_due,
    last_due,
    next_due,
    occurrences,
    once,
    recurrence,
)
from fiscus.core.errors import ValidationProblem


def _monthly(start: date, day: int | str | None = None, **kwargs: object) -> Recurrence:
    return recurrence(frequency="monthly", start=start, day_of_month=day, **kwargs)  # type: ignore[arg-type]


def test_the_31st_falls_on_each_months_last_day_across_a_year() -> None:
    rule = _monthly(date(2026, 1, 31))
    got = due_dates(rule, since=date(2026, 1, 1), through=date(2026, 12, 31))
    assert got == [date(2026, m, calendar.monthrange(2026, m)[1]) for m in range(1, 13)]
    # April's 30th does not drag May to the 30th.
    assert date(2026, 5, 31) in got and date(2026, 4, 30) in got


def test_the_30th_is_paid_on_february_28_then_on_march_30() -> None:
    rule = _monthly(date(2027, 1, 30))
    got = due_dates(rule, since=date(2027, 1, 1), through=date(2027, 3, 31))
    assert got == [date(2027, 1, 30), date(2027, 2, 28), date(2027, 3, 30)]


def test_february_in_leap_and_non_leap_years() -> None:
    rule = _monthly(date(2027, 12, 1), 29)
    assert next_due(rule, after=date(2028, 1, 31)) == date(2028, 2, 29)
    assert next_due(rule, after=date(2029, 1, 31)) == date(2029, 2, 28)
    assert next_due(rule, after=date(2100, 1, 31)) == date(2100, 2, 28)  # not a leap year
    assert next_due(rule, after=date(2400, 1, 31)) == date(2400, 2, 29)  # a leap year


def test_monthly_on_the_last_day() -> None:
    rule = _monthly(date(2028, 1, 10), LAST_DAY)
    got = due_dates(rule, since=date(2028, 1, 1), through=date(2028, 4, 30))
    assert got == [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30)]


def test_monthly_day_already_past_in_the_start_month_begins_next_month() -> None:
    rule = _monthly(date(2026, 3, 20), 5)
    assert next(occurrences(rule)) == date(2026, 4, 5)


def test_yearly_on_february_29_falls_on_the_28th_in_other_years() -> None:
    rule = recurrence(frequency="yearly", start=date(2028, 2, 29))
    got = due_dates(rule, since=date(2028, 1, 1), through=date(2032, 12, 31))
    assert got == [
        date(2028, 2, 29),
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]


def test_an_end_date_is_inclusive_and_stops_the_order() -> None:
    rule = _monthly(date(2026, 1, 15), end=date(2026, 4, 15))
    assert list(occurrences(rule)) == [date(2026, m, 15) for m in range(1, 5)]
    assert next_due(rule, after=date(2026, 4, 15)) is None
    assert last_due(rule) == date(2026, 4, 15)
    shorter = _monthly(date(2026, 1, 15), end=date(2026, 4, 14))
    assert last_due(shorter) == date(2026, 3, 15)


def test_a_count_stops_after_that_many_payments() -> None:
    rule = recurrence(frequency="daily", start=date(2026, 12, 30), count=4)
    assert list(occurrences(rule)) == [
        date(2026, 12, 30),
        date(2026, 12, 31),
        date(2027, 1, 1),
        date(2027, 1, 2),
    ]
    assert last_due(rule) == date(2027, 1, 2)
    assert next_due(rule, after=date(2027, 1, 2)) is None
    # The count is of payments since the start, not within the window asked for.
    assert due_dates(rule, since=date(2027, 1, 1), through=date(2027, 1, 31)) == [
        date(2027, 1, 1),
        date(2027, 1, 2),
    ]


def test_weekly_on_a_weekday_across_the_clock_changes() -> None:
    # 2026-03-29 and 2026-10-25 are the EU's DST changes: business dates do not care.
    rule = recurrence(frequency="weekly", start=date(2026, 3, 18), weekday=calendar.FRIDAY)
    got = due_dates(rule, since=date(2026, 3, 1), through=date(2026, 4, 10))
    assert got == [date(2026, 3, 20), date(2026, 3, 27), date(2026, 4, 3), date(2026, 4, 10)]
    assert next_due(rule, after=date(2026, 10, 24)) == date(2026, 10, 30)
    assert all(d.weekday() == calendar.FRIDAY for d in got)


def test_every_other_week_and_every_third_month() -> None:
    fortnightly = recurrence(frequency="weekly", start=date(2026, 1, 5), interval=2)
    assert list(occurrences(fortnightly, since=date(2026, 1, 6)))[:2] == [
        date(2026, 1, 19),
        date(2026, 2, 2),
    ]
    quarterly = _monthly(date(2026, 1, 31), interval=3)
    assert due_dates(quarterly, since=date(2026, 1, 1), through=date(2026, 12, 31)) == [
        date(2026, 1, 31),
        date(2026, 4, 30),
        date(2026, 7, 31),
        date(2026, 10, 31),
    ]


def test_is_due_and_next_due_far_in_the_future() -> None:
    rule = _monthly(date(2026, 1, 31))
    assert is_due(rule, on=date(3026, 2, 28))
    assert not is_due(rule, on=date(3026, 2, 27))
    assert next_due(rule, after=date(9999, 12, 30)) == date(9999, 12, 31)
    assert next_due(rule, after=date(9999, 12, 31)) is None
    assert is_due(rule, on=date(2025, 12, 31)) is False  # before the start


def test_due_dates_of_an_empty_or_oversized_window() -> None:
    rule = recurrence(frequency="daily", start=date(2026, 1, 1))
    assert due_dates(rule, since=date(2026, 2, 1), through=date(2026, 1, 1)) == []
    with pytest.raises(ValidationProblem):
        due_dates(rule, since=date(2026, 1, 1), through=date(2026, 1, 1) + timedelta(MAX_DUE_DATES))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"frequency": "fortnightly"}, "frequency"),
        ({"frequency": "monthly", "day_of_month": 32}, "day_of_month"),
        ({"frequency": "monthly", "day_of_month": 0}, "day_of_month"),
        ({"frequency": "monthly", "day_of_month": "first"}, "day_of_month"),
        ({"frequency": "daily", "day_of_month": 3}, "day_of_month"),
        ({"frequency": "weekly", "weekday": 7}, "weekday"),
        ({"frequency": "monthly", "weekday": 1}, "weekday"),
        ({"frequency": "daily", "interval": 0}, "interval"),
        ({"frequency": "yearly", "interval": 11}, "interval"),
        ({"frequency": "daily", "count": 0}, "count"),
        ({"frequency": "daily", "count": 2, "end": date(2026, 2, 1)}, "count"),
        ({"frequency": "daily", "end": date(2025, 12, 31)}, "end"),
    ],
)
def test_invalid_rules_are_refused_with_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationProblem) as caught:
        recurrence(start=date(2026, 1, 1), **kwargs)  # type: ignore[arg-type]
    problem = caught.value.problem()
    assert problem["status"] == 400
    assert problem["type"].endswith("/schedule-invalid")
    assert problem["errors"][0]["field"] == field


def test_the_dataclass_validates_too_and_is_frozen() -> None:
    with pytest.raises(ValidationProblem):
        Recurrence(frequency=Frequency.MONTHLY, start=date(2026, 1, 1), day_of_month=40)
    rule = Recurrence(frequency="weekly", start=date(2026, 1, 1))  # type: ignore[arg-type]
    assert rule.frequency is Frequency.WEEKLY
    with pytest.raises(AttributeError):
        rule.interval = 2  # type: ignore[misc]


# Properties: every rule, any window.
rules = st.builds(
    lambda frequency, start, interval, day, weekday, count, end_days: recurrence(
        frequency=frequency,
        start=start,
        interval=interval,
        day_of_month=day if frequency == "monthly" else None,
        weekday=weekday if frequency == "weekly" else None,
        count=count,
        end=None if count is not None or end_days is None else start + timedelta(end_days),
    ),
    frequency=st.sampled_from([f.value for f in Frequency]),
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    interval=st.integers(min_value=1, max_value=3),
    day=st.one_of(st.integers(min_value=1, max_value=31), st.just(LAST_DAY)),
    weekday=st.integers(min_value=0, max_value=6),
    count=st.one_of(st.none(), st.integers(min_value=1, max_value=40)),
    end_days=st.one_of(st.none(), st.integers(min_value=0, max_value=2000)),
)


def _walked(rule: Recurrence, through: date) -> list[date]:
    """The rule's dates up to `through`, by walking the calendar: an independent oracle."""
    day = rule.day_of_month if rule.day_of_month is not None else rule.start.day
    weekday = rule.weekday if rule.weekday is not None else rule.start.weekday()
    candidates: list[date] = []
    if rule.frequency in {Frequency.DAILY, Frequency.WEEKLY}:
        cursor = rule.start
        while cursor <= through:
            if rule.frequency is Frequency.DAILY or cursor.weekday() == weekday:
                candidates.append(cursor)
            cursor += timedelta(days=1)
        candidates = candidates[:: rule.interval]
    else:
        year, month = rule.start.year, rule.start.month
        while date(year, month, 1) <= through:
            last = calendar.monthrange(year, month)[1]
            if rule.frequency is Frequency.MONTHLY:
                candidates.append(
                    date(year, month, last if day == LAST_DAY else min(int(day), last))
                )
            elif month == rule.start.month:
                candidates.append(date(year, month, min(rule.start.day, last)))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        candidates = [d for d in candidates if d >= rule.start][:: rule.interval]
    if rule.count is not None:
        candidates = candidates[: rule.count]
    return [d for d in candidates if d <= through and (rule.end is None or d <= rule.end)]


@settings(deadline=None, max_examples=60)
@given(rule=rules, since=st.dates(date(1999, 1, 1), date(2101, 1, 1)), days=st.integers(0, 800))
def test_due_dates_agree_with_walking_the_calendar(
    rule: Recurrence, since: date, days: int
) -> None:
    through = since + timedelta(days=days)
    got = due_dates(rule, since=since, through=through)
    assert got == [d for d in _walked(rule, through) if d >= since]
    assert all(is_due(rule, on=d) for d in got)
    # Consecutive due dates are one next_due apart.
    for before, after in pairwise(got):
        assert next_due(rule, after=before) == after


@settings(deadline=None)
@given(rule=rules)
def test_monthly_dates_keep_their_day_unless_the_month_is_shorter(rule: Recurrence) -> None:
    if rule.frequency is not Frequency.MONTHLY:
        return
    day = rule.start.day if rule.day_of_month is None else rule.day_of_month
    for found in islice(occurrences(rule), 30):
        last = calendar.monthrange(found.year, found.month)[1]
        assert found.day == (last if day == LAST_DAY else min(int(day), last))


def test_a_scheduled_transfer_is_due_once() -> None:
    rule = once(date(2027, 3, 1))
    assert due_dates(rule, since=date(2027, 1, 1), through=date(2027, 12, 31)) == [date(2027, 3, 1)]
    assert next_due(rule, after=date(2027, 3, 1)) is None
    assert last_due(rule) == date(2027, 3, 1)
