"""The clock. Code asks `clock.now()`; tests freeze or advance it with `frozen_clock`."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema


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


def _strict_rfc3339(value: object) -> object:
    # pydantic's lax mode reads numbers as Unix seconds ("0.5" is a date); the API promises
    # RFC 3339 with an explicit offset, so anything else is refused before parsing.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("expected an RFC 3339 timestamp with offset, e.g. 2026-11-22T14:05:00Z")
    return value


Timestamp = Annotated[
    datetime,
    BeforeValidator(_strict_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-22T14:05:00Z"]}),
]
