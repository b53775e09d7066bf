"""The hot path: calls of the PL/pgSQL posting functions on the raw psycopg connection.

The async ORM costs far more per statement than the posting itself, so a posting is one
`SELECT ledger_post(...)` on the driver connection of the unit of work's transaction
(prepared by psycopg after a few calls), and the database does the locking, checking and
writing in that one round trip.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError

from fiscus.core.db import RETRYABLE, Database, UnitOfWork
from fiscus.core.money import MAX_MINOR
from fiscus.ledger.errors import LedgerAmountOutOfRange
from fiscus.ledger.round_trip import one_round_trip

T = TypeVar("T")
MAX_ATTEMPTS = 8

POST_SQL = (
    "SELECT code, transfer_id, status, recorded_at, replayed, holders FROM ledger_post("
    "%s, %s, %s, %s::text, %s, %b::uuid[], %b::text[], %b::int8[], %b::text[], %s, %s::int4,"
    " %s, %s::timestamptz, %s::text, %s::jsonb, %s::jsonb, %s)"
)
RESOLVE_SQL = (
    "SELECT code, transfer_id, status, recorded_at, replayed, holders FROM ledger_resolve("
    "%s, %s, %s, %s::text, %s, %s, %s::int8, %s, %s::text, %s::jsonb, %s)"
)
REVERSE_SQL = (
    "SELECT code, transfer_id, status, recorded_at, replayed, holders FROM ledger_reverse("
    "%s, %s, %s, %s::text, %s, %s, %s::text, %s::jsonb, %s)"
)
BATCH_SQL = (
    "SELECT code, transfer_id, status, recorded_at, replayed, holders FROM ledger_post_batch("
    "%s, %s, %s, %b::uuid[], %b::bool[], %b::text[], %b::text[], %b::int4[], %b::bool[],"
    " %b::int4[], %b::timestamptz[], %b::text[], %b::jsonb[], %b::bool[], %b::uuid[],"
    " %b::text[], %b::int8[], %b::text[], %b::uuid[])"
)
# What UnitOfWork.__aenter__ does, sent in the same pipeline as the posting.


@dataclass(frozen=True, slots=True)
class Row:
    """One `ledger_result` from a posting function."""

    code: str
    transfer_id: uuid.UUID | None
    status: str | None
    recorded_at: datetime | None
    replayed: bool
    holders: dict[str, Any] | None


async def driver(uow: UnitOfWork) -> psycopg.AsyncConnection[Any]:
    """The psycopg connection under the unit of work's session (same transaction)."""
    assert uow.active, "the ledger posts inside the use case's unit of work"
    connection = await uow.session.connection()
    raw = await connection.get_raw_connection()
    handle = raw.driver_connection
    assert isinstance(handle, psycopg.AsyncConnection)
    return handle


async def call_one(uow: UnitOfWork, sql: str, params: tuple[Any, ...]) -> Row:
    """Run one posting function and return its result row."""
    cursor = await (await driver(uow)).execute(sql, params)
    found = await cursor.fetchone()
    assert found is not None
    return Row(*found)


async def call_many(uow: UnitOfWork, sql: str, params: tuple[Any, ...]) -> list[Row]:
    """Run a set-returning posting function (the batch) and return its rows in order."""
    cursor = await (await driver(uow)).execute(sql, params)
    return [Row(*found) for found in await cursor.fetchall()]


async def call_pipelined(
    db: Database, tenant_id: uuid.UUID, sql: str, params: tuple[Any, ...]
) -> Row:
    """One posting as its own transaction in one network round trip (see `round_trip`)."""
    found = await one_round_trip(db, tenant_id, sql, params, width=len(Row.__slots__))
    assert found is not None, "the posting function returned no row"
    return Row(*found)


def _retryable(error: BaseException) -> bool:
    cause = error.orig if isinstance(error, DBAPIError) else error
    if isinstance(cause, RETRYABLE):
        return True
    # Two requests with the same new id or key raced: the retry finds the winner and
    # answers `exists` (or exists_with_different_*), never a second posting.
    return isinstance(cause, pg_errors.UniqueViolation) and "ledger_transfers" in str(cause)


async def run_retrying(
    db: Database, operation: Callable[[UnitOfWork], Awaitable[T]], *, tenant_id: uuid.UUID
) -> T:
    """One transaction per attempt; lock and serialization failures are retried here and
    never reach the client as a refusal."""

    async def attempt_once() -> T:
        async with db.uow(tenant_id=tenant_id) as uow:
            return await operation(uow)

    return await retrying(attempt_once)


async def retrying(attempt_once: Callable[[], Awaitable[T]]) -> T:
    """Run `attempt_once` (a whole transaction) again after a retryable failure."""
    for attempt in range(MAX_ATTEMPTS):
        try:
            return await attempt_once()
        except (DBAPIError, psycopg.Error) as error:
            cause = error.orig if isinstance(error, DBAPIError) else error
            if isinstance(cause, pg_errors.NumericValueOutOfRange):
                # A bigint balance or total overflowed; the transaction rolled back.
                raise LedgerAmountOutOfRange(
                    f"The result would pass the ledger's range of {MAX_MINOR} minor units."
                ) from None
            if attempt == MAX_ATTEMPTS - 1 or not _retryable(error):
                raise
            await asyncio.sleep(min(0.1, 0.002 * 2**attempt))
    raise AssertionError("unreachable")  # pragma: no cover
