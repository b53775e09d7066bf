"""The clock. Code asks `clock.now()`; tests freeze or advance it with `frozen_clock`."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


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
