"""The clock. Code asks `clock.now()`; tests freeze or advance it with `frozen_clock`."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError


@dataclass
class FrozenClock:
    """A clock that stands still until told to move."""

    current: datetime = field(default_factory=lambda: datetime.now(UTC))

    def now(self) -> datetime:
        """The frozen time."""
        return self.current

    def advance(self, delta: timedelta) -> None:
        """Move time forward (or back, with a negative delta)."""
        self.current = self.current + delta


_frozen: contextvars.ContextVar[FrozenClock | None] = contextvars.ContextVar(
    "fiscus_frozen_clock", default=None
)


def now() -> datetime:
    """The current UTC time, timezone-aware."""
    frozen = _frozen.get()
    return frozen.now() if frozen is not None else datetime.now(UTC)


@contextmanager
def frozen_clock(at: datetime | None = None) -> Iterator[FrozenClock]:
    """Freeze `now()` for the code running in this context (tests only)."""
    clock = FrozenClock(at.astimezone(UTC) if at is not None else datetime.now(UTC))
    token = _frozen.set(clock)
    try:
        yield clock
    finally:
        _frozen.reset(token)


def rfc3339(moment: datetime) -> str:
    """Render as RFC 3339 UTC with milliseconds and a Z: 2026-11-22T14:05:00.123Z."""
    assert moment.tzinfo is not None, "naive datetimes are programmer errors"
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_TIMESTAMP_HELP = "an RFC 3339 timestamp with an offset, e.g. 2026-11-22T14:05:00Z"


def parse_timestamp(value: str) -> datetime:
    """Parse RFC 3339 with an explicit offset into an aware UTC datetime; else ValueError.

    A time without an offset is refused (its meaning depends on whose clock wrote it), and
    so is one that leaves years 1-9999 once moved to UTC (0001-01-01T00:00:00+01:00).
    """
    if len(value) > 40 or not _RFC3339.match(value):
        raise ValueError(f"expected {_TIMESTAMP_HELP}")
    # Python reads at most 6 fractional digits; RFC 3339 allows more (nanoseconds).
    value = re.sub(r"(\.\d{6})\d+", r"\1", value.upper().replace(" ", "T"))
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(f"not a valid time: expected {_TIMESTAMP_HELP} in years 1-9999") from None


def _timestamp(value: object) -> datetime:
    # pydantic's lax mode reads numbers as Unix seconds ("0.5" is a date) and accepts times
    # without an offset; every time the API takes is parsed here instead, and refused with
    # the `timestamp-invalid` problem type.
    try:
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"expected {_TIMESTAMP_HELP}, not a time without an offset")
            return value.astimezone(UTC)
        if isinstance(value, str):
            return parse_timestamp(value)
        raise ValueError(f"expected {_TIMESTAMP_HELP}")
    except (ValueError, OverflowError) as error:
        raise PydanticCustomError("invalid_timestamp", str(error)) from None


Timestamp = Annotated[
    datetime,
    PlainValidator(_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-22T14:05:00Z"]}),
]
"""Every time a client sends: RFC 3339 with an offset, held as an aware UTC datetime."""


def _calendar_date(value: object) -> object:
    """A query's `YYYY-MM-DD` and nothing else: pydantic would also take a datetime such as
    `2026-12-01T00:00:00+01:00` for a date, which names a day the caller may not mean."""
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("must be a calendar date, YYYY-MM-DD")
    return value


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A day in a query string, exactly YYYY-MM-DD (see `_calendar_date`).
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]
