"""Recurrence rules for standing orders and scheduled transfers: pure date arithmetic.

A `Recurrence` says on which business dates an order is due: every N days, every N weeks on
a weekday, every N months on a day of the month (a day the month lacks falls on its last
day: the 31st is paid on 30 April and on 28 or 29 February) or on the month's last day, or
every N years on the start's day (29 February falls on 28 February in other years). It
starts on `start` and stops after `end` (inclusive) or after `count` payments, or never.

Occurrence k (k = 0, 1, ...) is computed in closed form from the first one, never by
walking from the start, so that `next_due` far in the future costs the same as tomorrow's,
and a clamped month (31st -> 30 April) never drags the following months to the 30th.

The standard library suffices: dateutil's `rrule` skips months that lack the day instead of
paying on their last day, which is not what a standing order on the 31st means.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from fiscus.core.errors import ValidationProblem

# Limits (STYLE rule 14): an interval past these is a typo, and a list of due dates is
# bounded so that a window of centuries cannot build a list of millions.
MAX_INTERVAL = {"daily": 366, "weekly": 104, "monthly": 120, "yearly": 10}
MAX_COUNT = 10_000
MAX_DUE_DATES = 5_000


class ScheduleInvalid(ValidationProblem):
    """A standing order's or scheduled transfer's recurrence rule is not a valid one."""

    type_slug = "schedule-invalid"
    title = "Invalid schedule"


class Frequency(StrEnum):
    """How often a standing order pays."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


# The value of `day_of_month` meaning "the last day of each month".
LAST_DAY = "last"


@dataclass(frozen=True, slots=True)
class Recurrence:
    """When a standing order is due; validated when built (ValidationProblem). `recurrence()`
    also takes the frequency as a string, as the API receives it."""

    frequency: Frequency
    start: date
    interval: int = 1
    # Weekly: 0 = Monday ... 6 = Sunday. Monthly: 1..31 or LAST_DAY. Both default to the
    # start's weekday or day of month; neither applies to the other frequencies.
    weekday: int | None = None
    day_of_month: int | str | None = None
    end: date | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.frequency, Frequency):
            # A plain string from a caller that skipped `recurrence()`: same check, same error.
            object.__setattr__(self, "frequency", _frequency(self.frequency))
        _validate(self)


def recurrence(
    *,
    frequency: Frequency | str,
    start: date,
    interval: int = 1,
    weekday: int | None = None,
    day_of_month: int | str | None = None,
    end: date | None = None,
    count: int | None = None,
) -> Recurrence:
    """A validated rule; raises ValidationProblem (400, naming the field) when it is not one."""
    return Recurrence(
        frequency=_frequency(frequency),
        start=start,
        interval=interval,
        weekday=weekday,
        day_of_month=day_of_month,
        end=end,
        count=count,
    )


def once(on: date) -> Recurrence:
    """A scheduled (future-dated) transfer: due on `on` and never again."""
    return Recurrence(frequency=Frequency.DAILY, start=on, count=1)


def _frequency(value: str) -> Frequency:
    try:
        return Frequency(value)
    except ValueError:
        choices = ", ".join(f.value for f in Frequency)
        raise ScheduleInvalid(f"frequency must be one of {choices}.", field="frequency") from None


def _validate(rule: Recurrence) -> None:
    # datetime is a date too, but comparing one with a date raises: a programmer's mistake.
    assert all(type(d) is date for d in (rule.start, rule.end or rule.start))
    limit = MAX_INTERVAL[rule.frequency.value]
    if isinstance(rule.interval, bool) or not 1 <= rule.interval <= limit:
        raise ScheduleInvalid(
            f"interval must be between 1 and {limit} for a {rule.frequency.value} order.",
            field="interval",
        )
    if rule.weekday is not None and (
        rule.frequency is not Frequency.WEEKLY
        or isinstance(rule.weekday, bool)
        or not 0 <= rule.weekday <= 6
    ):
        raise ScheduleInvalid(
            "weekday (0 = Monday ... 6 = Sunday) applies only to a weekly order.",
            field="weekday",
        )
    if rule.day_of_month is not None and (
        rule.frequency is not Frequency.MONTHLY or not _is_day_of_month(rule.day_of_month)
    ):
        raise ScheduleInvalid(
            f"day_of_month (1-31 or {LAST_DAY!r}) applies only to a monthly order.",
            field="day_of_month",
        )
    if rule.end is not None and rule.count is not None:
        raise ScheduleInvalid("Give an end date or a count, not both.", field="count")
    if rule.end is not None and rule.end < rule.start:
        raise ScheduleInvalid("end must not be before start.", field="end")
    if rule.count is not None and (
        isinstance(rule.count, bool) or not 1 <= rule.count <= MAX_COUNT
    ):
        raise ScheduleInvalid(f"count must be between 1 and {MAX_COUNT}.", field="count")


def _is_day_of_month(value: int | str) -> bool:
    if isinstance(value, str):
        return value == LAST_DAY
    return not isinstance(value, bool) and 1 <= value <= 31


def _clamped(year: int, month: int, day: int | str) -> date:
    """`day` of the month, or the month's last day when it has no such day (or LAST_DAY)."""
    last = calendar.monthrange(year, month)[1]
    return date(year, month, last if day == LAST_DAY else min(int(day), last))


def _month_day(rule: Recurrence) -> int | str:
    return rule.start.day if rule.day_of_month is None else rule.day_of_month


def _first_month(rule: Recurrence) -> int:
    """Months since year 0 of the first monthly payment: the start's month, or the next."""
    index = rule.start.year * 12 + rule.start.month - 1
    on_start_month = _clamped(rule.start.year, rule.start.month, _month_day(rule))
    return index if on_start_month >= rule.start else index + 1


def _first_weekly(rule: Recurrence) -> date:
    weekday = rule.start.weekday() if rule.weekday is None else rule.weekday
    return rule.start + timedelta(days=(weekday - rule.start.weekday()) % 7)


def _nth(rule: Recurrence, k: int) -> date | None:
    """Occurrence k of the unbounded rule (end and count ignored); None past year 9999."""
    step = k * rule.interval
    try:
        match rule.frequency:
            case Frequency.DAILY:
                return rule.start + timedelta(days=step)
            case Frequency.WEEKLY:
                return _first_weekly(rule) + timedelta(weeks=step)
            case Frequency.MONTHLY:
                year, month0 = divmod(_first_month(rule) + step, 12)
                return _clamped(year, month0 + 1, _month_day(rule))
            case Frequency.YEARLY:
                return _clamped(rule.start.year + step, rule.start.month, rule.start.day)
    except (OverflowError, ValueError):
        return None  # past date.max: the rule has no such occurrence


def _index_on_or_after(rule: Recurrence, day: date) -> int:
    """The smallest k whose occurrence falls on or after `day` (maybe past date.max)."""
    if day <= rule.start:
        return 0
    match rule.frequency:
        case Frequency.DAILY:
            k = (day - rule.start).days // rule.interval
        case Frequency.WEEKLY:
            k = (day - _first_weekly(rule)).days // (7 * rule.interval)
        case Frequency.MONTHLY:
            k = (day.year * 12 + day.month - 1 - _first_month(rule)) // rule.interval
        case Frequency.YEARLY:
            k = (day.year - rule.start.year) // rule.interval
    # The estimate is never past the answer and at most two below it.
    k = max(k, 0)
    for _ in range(3):
        found = _nth(rule, k)
        if found is None or found >= day:
            return k
        k += 1
    raise AssertionError("recurrence estimate off by more than two")  # pragma: no cover


def _bounded(rule: Recurrence, k: int) -> date | None:
    """Occurrence k if the rule's end or count allows it, else None."""
    if rule.count is not None and k >= rule.count:
        return None
    found = _nth(rule, k)
    if found is None or (rule.end is not None and found > rule.end):
        return None
    return found


def occurrences(rule: Recurrence, *, since: date | None = None) -> Iterator[date]:
    """Every due date on or after `since` (default: the start), in order; ends with the rule."""
    k = _index_on_or_after(rule, since or rule.start)
    while (found := _bounded(rule, k)) is not None:
        yield found
        k += 1


def due_dates(rule: Recurrence, *, since: date, through: date) -> list[date]:
    """The due dates from `since` to `through`, both inclusive (at most MAX_DUE_DATES).

    A job that ran last on day D and now runs for business date B asks for (D + 1, B): the
    dates it missed while stopped come back too, each once.
    """
    if through < since:
        return []
    found: list[date] = []
    for day in occurrences(rule, since=since):
        if day > through:
            break
        if len(found) == MAX_DUE_DATES:
            raise ScheduleInvalid(
                f"More than {MAX_DUE_DATES} due dates between {since} and {through}.",
                field="through",
            )
        found.append(day)
    return found


def next_due(rule: Recurrence, *, after: date) -> date | None:
    """The first due date strictly after `after`, or None when the rule has ended."""
    if after >= date.max:
        return None
    return next(occurrences(rule, since=after + timedelta(days=1)), None)


def is_due(rule: Recurrence, *, on: date) -> bool:
    """Whether the rule pays on `on`."""
    return next(occurrences(rule, since=on), None) == on


def last_due(rule: Recurrence) -> date | None:
    """The rule's final due date, or None when it runs for ever."""
    if rule.count is not None:
        return _bounded(rule, rule.count - 1)
    if rule.end is None:
        return None
    if rule.end == date.max:
        return _last_before_max(rule)
    # The occurrence before the first one past the end, if any.
    k = _index_on_or_after(rule, rule.end + timedelta(days=1))
    return _bounded(rule, k - 1) if k > 0 else None


def _last_before_max(rule: Recurrence) -> date | None:
    """The last occurrence in the calendar, for a rule that ends on 9999-12-31."""
    k = _index_on_or_after(rule, date.max)
    found = _nth(rule, k)
    return found if found == date.max else _nth(rule, k - 1) if k > 0 else None
