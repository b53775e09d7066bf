"""Retention: deleting, in bounded batches, rows older than an operator-configured window.

Each module names its own finished rows (delivered events, completed webhook deliveries,
sent messages); this deletes them a batch per transaction, skipping rows another
transaction holds, so a large backlog never becomes one long lock. Audit records and
ledger rows are never purged: they are append-only by design.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from fiscus.core import clock
from fiscus.core.db import Database

RETENTION_BATCH = 1000
# One run deletes at most this many batches; the next run (an hour later) goes on.
MAX_BATCHES_PER_RUN = 100


def retention_cutoff(days: int) -> datetime | None:
    """The instant before which finished rows go, or None when `days` is 0 (keep forever)."""
    return None if days == 0 else clock.now() - timedelta(days=days)


async def retention_purge(
    db: Database,
    *,
    model: type[Any],
    key: Sequence[InstrumentedAttribute[Any]],
    finished: ColumnElement[bool],
    since: InstrumentedAttribute[Any],
    days: int,
) -> int:
    """Delete the `finished` rows whose `since` is more than `days` ago (0: none)."""
    cutoff = retention_cutoff(days)
    if cutoff is None:
        return 0
    return await rows_purge(db, model=model, key=key, conditions=[finished, since < cutoff])


async def rows_purge(
    db: Database,
    *,
    model: type[Any],
    key: Sequence[InstrumentedAttribute[Any]],
    conditions: Sequence[ColumnElement[bool]],
    batch: int = RETENTION_BATCH,
    max_batches: int = MAX_BATCHES_PER_RUN,
) -> int:
    """Delete the rows of `model` matching `conditions`, `batch` per transaction; how many."""
    assert batch > 0 and max_batches > 0
    total = 0
    for _ in range(max_batches):
        victims = select(*key).where(*conditions).limit(batch).with_for_update(skip_locked=True)
        async with db.uow() as uow:
            result = await uow.session.execute(delete(model).where(tuple_(*key).in_(victims)))
        deleted = cast(CursorResult[Any], result).rowcount
        total += deleted
        if deleted < batch:
            break
    return total
