"""The hot path: calls of the PL/pgSQL posting functions on the unit of work's connection.

The async ORM costs far more per statement than the posting itself, so a posting is one
`SELECT ledger_post(...)` on the psycopg connection of the unit of work's transaction,
and the database does the locking, checking and writing in that one statement. A use
case that is only a posting runs it in a single-statement unit of work (one round trip:
see `UnitOfWork.fetch_one`); a use case that writes more passes its own unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError

from fiscus.core.db import Database, UnitOfWork, database_cause
from fiscus.core.money import MAX_MINOR
from fiscus.ledger.errors import LedgerAmountOutOfRange

T = TypeVar("T")

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
    " %b::text[], %b::int8[], %b::text[], %b::uuid[], %b::jsonb[])"
)


@dataclass(frozen=True, slots=True)
class Row:
    """One `ledger_result` from a posting function."""

    code: str
    transfer_id: uuid.UUID | None
    status: str | None
    recorded_at: datetime | None
    replayed: bool
    holders: dict[str, Any] | None


@contextmanager
def amounts_in_range() -> Iterator[None]:
    """Turn a bigint overflow of a balance or total into the ledger's refusal; the
    transaction is aborted either way and rolls back with the unit of work."""
    try:
        yield
    except (DBAPIError, psycopg.Error) as error:
        if isinstance(database_cause(error), pg_errors.NumericValueOutOfRange):
            raise LedgerAmountOutOfRange(
                f"The result would pass the ledger's range of {MAX_MINOR} minor units."
            ) from None
        raise


async def call_one(uow: UnitOfWork, sql: str, params: tuple[Any, ...]) -> Row:
    """Run one posting function in the unit of work and return its result row."""
    assert uow.active, "the ledger posts inside the use case's unit of work"
    with amounts_in_range():
        found = await uow.fetch_one(sql, params)
    assert found is not None, "the posting function returned no row"
    return Row(*found)


def same_id_race(error: BaseException) -> bool:
    """Two requests with the same new id or key raced: the retry finds the winner and
    answers `exists` (or exists_with_different_*), never a second posting."""
    cause = database_cause(error)
    return isinstance(cause, pg_errors.UniqueViolation) and "ledger_transfers" in str(cause)


async def ledger_run(
    db: Database,
    operation: Callable[[UnitOfWork], Awaitable[T]],
    *,
    tenant_id: uuid.UUID,
    single_statement: bool = False,
) -> T:
    """A ledger use case in its own unit of work, through the one retrying runner."""
    return await db.run(
        operation,
        tenant_id=tenant_id,
        single_statement=single_statement,
        retry_when=same_id_race,
    )
