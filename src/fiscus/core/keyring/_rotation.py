"""Data-key rotation: the registry of sealed columns, re-sealing, retiring, status.

`keys_rotate` is the one use case behind `fiscus keys rotate`; the smaller functions are
its steps, public so that tests can drive a rotation one step at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, insert, select, text, update

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.keyring._ring import (
    DATA,
    KEYRING_LOCK,
    KID_CHARS,
    REFRESH_S,
    KeyRing,
    KeyRingError,
    _new_key_row,
    root_kid,
)
from fiscus.core.models import EncryptionKey

# Held for a whole rotation, so that two `fiscus keys rotate` never interleave (the second
# one would retire the key the first one is rolling out).
ROTATION_LOCK = KEYRING_LOCK + 1
# How long a rotation waits for every process to re-read the keys: one refresh period and
# a margin for a slow reload.
ROLLOUT_WAIT_S = REFRESH_S + 15.0
RESEAL_BATCH = 500
# A row locked by a long transaction is skipped by a batch and retried; this many empty
# passes (a second apart) while values are still stale end the rotation with an error.
MAX_IDLE_PASSES = 120
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class KeyRotationRefused(KeyRingError):
    """A rotation cannot go on (another one runs, or old keys still have values)."""


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column of sealed values that `fiscus keys rotate` re-encrypts.

    `key` names the columns that identify a row (its primary key, plus any column its
    associated data binds); `context` builds each row's associated data from their values,
    exactly as the owning module does when it writes the column.
    """

    table: str
    column: str
    key: tuple[str, ...]
    context: Callable[[Sequence[Any]], bytes]

    def __post_init__(self) -> None:
        # Names are written into SQL: they come from code, and must look like it.
        for name in (self.table, self.column, *self.key):
            assert _IDENTIFIER.match(name), f"not an SQL identifier: {name!r}"

    @property
    def name(self) -> str:
        """`table.column`."""
        return f"{self.table}.{self.column}"


_sealed_columns: dict[tuple[str, str], SealedColumn] = {}


def register_sealed_column(column: SealedColumn) -> None:
    """Declare a sealed column (each module, for its own tables, at import)."""
    _sealed_columns[(column.table, column.column)] = column


def sealed_columns() -> list[SealedColumn]:
    """Every registered sealed column."""
    return sorted(_sealed_columns.values(), key=lambda c: (c.table, c.column))


def _kid_sql(column: SealedColumn) -> str:
    return f"substring({column.column} from 2 for {KID_CHARS})"


async def data_key_create(db: Database, ring: KeyRing) -> str:
    """Add a new data key, readable by every process but not yet used for writing."""
    values, _ = _new_key_row(ring.roots[0], DATA, active=False)
    async with db.uow() as uow:
        await uow.session.execute(insert(EncryptionKey).values(**values))
    await ring.load(db, create=False)
    return str(values["id"])


async def data_key_activate(db: Database, ring: KeyRing, kid: str) -> None:
    """Make `kid` the key new values are sealed with."""
    async with db.uow() as uow:
        await uow.session.execute(
            update(EncryptionKey).where(EncryptionKey.id == kid).values(activated_at=clock.now())
        )
    await ring.load(db, create=False)


async def column_stale_count(db: Database, ring: KeyRing, column: SealedColumn) -> int:
    """How many values of the column are not sealed with the current data key."""
    async with db.uow() as uow:
        found = await uow.session.execute(
            text(
                f"SELECT count(*) FROM {column.table}"  # noqa: S608 - registered names
                f" WHERE {column.column} IS NOT NULL AND {_kid_sql(column)} <> :kid"
            ),
            {"kid": ring.current_kid.encode()},
        )
        return int(found.scalar_one())


async def column_key_counts(db: Database, column: SealedColumn) -> dict[str, int]:
    """How many values of the column each data key sealed (`fiscus keys status`)."""
    async with db.uow() as uow:
        rows = await uow.session.execute(
            text(
                f"SELECT {_kid_sql(column)}, count(*) FROM {column.table}"  # noqa: S608
                f" WHERE {column.column} IS NOT NULL GROUP BY 1 ORDER BY 1"
            )
        )
        return {bytes(kid).decode("ascii", "replace"): int(n) for kid, n in rows}


async def column_reseal_batch(
    db: Database, ring: KeyRing, column: SealedColumn, *, batch: int = RESEAL_BATCH
) -> int:
    """Re-encrypt up to `batch` stale values of the column with the current key; how many.

    Rows another transaction holds are skipped (SKIP LOCKED), so the service keeps running.
    """
    assert 1 <= batch <= 10_000
    keys = ", ".join(column.key)
    async with db.uow() as uow:
        rows = (
            await uow.session.execute(
                text(
                    f"SELECT {keys}, {column.column} FROM {column.table}"  # noqa: S608
                    f" WHERE {column.column} IS NOT NULL AND {_kid_sql(column)} <> :kid"
                    f" ORDER BY {keys} LIMIT :limit FOR UPDATE SKIP LOCKED"
                ),
                {"kid": ring.current_kid.encode(), "limit": batch},
            )
        ).all()
        where = " AND ".join(f"{name} = :k{i}" for i, name in enumerate(column.key))
        statement = text(
            f"UPDATE {column.table} SET {column.column} = :sealed WHERE {where}"  # noqa: S608
        )
        for row in rows:
            key_values = tuple(row[: len(column.key)])
            context = column.context(key_values)
            plain = ring.open(bytes(row[-1]), context=context)
            params = {f"k{i}": value for i, value in enumerate(key_values)}
            params["sealed"] = ring.seal(plain, context=context)
            await uow.session.execute(statement, params)
    return len(rows)


async def data_keys_retire(
    db: Database, ring: KeyRing, columns: Sequence[SealedColumn] | None = None
) -> list[str]:
    """Delete every data key but the current one, once no registered value refers to one.

    Refuses (KeyRotationRefused) while a value of a registered column is sealed with
    another key: deleting that key would make the value unreadable for good.
    """
    columns = sealed_columns() if columns is None else columns
    current = ring.current_kid
    async with db.uow() as uow:
        await uow.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": KEYRING_LOCK})
        for column in columns:
            stale = await uow.session.execute(
                text(
                    f"SELECT count(*) FROM {column.table}"  # noqa: S608 - registered names
                    f" WHERE {column.column} IS NOT NULL AND {_kid_sql(column)} <> :kid"
                ),
                {"kid": current.encode()},
            )
            if (count := int(stale.scalar_one())) > 0:
                raise KeyRotationRefused(
                    f"{count} value(s) of {column.name} are still sealed with an older data "
                    "key; run `fiscus keys rotate` again to re-seal them before retiring it."
                )
        gone = (
            await uow.session.execute(
                delete(EncryptionKey)
                .where(EncryptionKey.purpose == DATA, EncryptionKey.id != current)
                .returning(EncryptionKey.id)
            )
        ).scalars()
        retired = sorted(gone)
    await ring.load(db, create=False)
    return retired


class RotationProgress(Protocol):
    """What a rotation reports while it runs (the CLI draws it with Rich)."""

    def phase(self, description: str) -> None:
        """A new step began."""

    def column(self, name: str, total: int) -> None:
        """Re-sealing of a column begins, with this many stale values."""

    def advance(self, name: str, done: int) -> None:
        """`done` more values of the column were re-sealed."""


class _Silent:
    def phase(self, description: str) -> None:
        pass

    def column(self, name: str, total: int) -> None:
        pass

    def advance(self, name: str, done: int) -> None:
        pass


@dataclass(frozen=True, slots=True)
class RotationResult:
    """What `keys_rotate` did."""

    new_kid: str
    resealed: dict[str, int]
    retired: list[str]


@contextlib.asynccontextmanager
async def _exclusive_rotation(db: Database) -> AsyncIterator[None]:
    """Hold the rotation lock on one connection for the whole rotation, or refuse."""
    async with db.engine.connect() as connection:
        got = await connection.scalar(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": ROTATION_LOCK}
        )
        await connection.commit()
        if not got:
            raise KeyRotationRefused("Another `fiscus keys rotate` is running; wait for it.")
        try:
            yield
        finally:
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": ROTATION_LOCK}
            )
            await connection.commit()


async def _reseal_column(
    db: Database, ring: KeyRing, column: SealedColumn, *, batch: int, progress: RotationProgress
) -> int:
    total = await column_stale_count(db, ring, column)
    progress.column(column.name, total)
    done = idle = 0
    while True:
        moved = await column_reseal_batch(db, ring, column, batch=batch)
        done += moved
        progress.advance(column.name, moved)
        if moved:
            idle = 0
            continue
        if await column_stale_count(db, ring, column) == 0:
            return done
        # Only rows locked by running transactions are left: wait for them.
        idle += 1
        if idle > MAX_IDLE_PASSES:
            raise KeyRotationRefused(
                f"Values of {column.name} stayed locked for {MAX_IDLE_PASSES} s; run "
                "`fiscus keys rotate` again later (the new key is already in use)."
            )
        await asyncio.sleep(1.0)


async def keys_rotate(
    db: Database,
    ring: KeyRing,
    *,
    wait_s: float = ROLLOUT_WAIT_S,
    batch: int = RESEAL_BATCH,
    columns: Sequence[SealedColumn] | None = None,
    progress: RotationProgress | None = None,
) -> RotationResult:
    """Rotate the data key while the service runs.

    Re-wraps every key under the current root secret, adds a new data key, waits `wait_s`
    so that every process can read it, makes it current, waits again so that every process
    writes with it, re-seals every registered column in batches, and deletes the older
    data keys once no registered value refers to them.
    """
    assert wait_s >= 0
    columns = sealed_columns() if columns is None else list(columns)
    report = progress or _Silent()
    async with _exclusive_rotation(db):
        report.phase("Re-wrapping the keys under the current root secret")
        await ring.load(db)
        new = await data_key_create(db, ring)
        report.phase(f"Waiting {wait_s:g} s for every process to load data key {new}")
        await asyncio.sleep(wait_s)
        await data_key_activate(db, ring, new)
        report.phase(f"Waiting {wait_s:g} s for every process to write with data key {new}")
        await asyncio.sleep(wait_s)
        resealed = {
            column.name: await _reseal_column(db, ring, column, batch=batch, progress=report)
            for column in columns
        }
        report.phase("Retiring the older data keys")
        retired = await data_keys_retire(db, ring, columns)
    return RotationResult(new_kid=new, resealed=resealed, retired=retired)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One key of the ring, as `fiscus keys status` shows it (never the key itself)."""

    id: str
    purpose: str
    created_at: datetime
    activated_at: datetime | None
    wrapped_by: str
    current: bool


@dataclass(frozen=True, slots=True)
class KeysStatus:
    """The keys, the root secret they are wrapped with, and what each column is sealed with."""

    root_id: str
    keys: list[KeyInfo]
    columns: dict[str, dict[str, int]] = field(default_factory=dict)


async def keys_status(
    db: Database, ring: KeyRing, *, columns: Sequence[SealedColumn] | None = None
) -> KeysStatus:
    """Open the ring (re-wrapping after a root rotation) and count values per key."""
    columns = sealed_columns() if columns is None else columns
    await ring.load(db)
    async with db.uow() as uow:
        rows = (
            await uow.session.execute(
                select(
                    EncryptionKey.id,
                    EncryptionKey.purpose,
                    EncryptionKey.created_at,
                    EncryptionKey.activated_at,
                    EncryptionKey.wrapped_by,
                ).order_by(EncryptionKey.created_at, EncryptionKey.id)
            )
        ).all()
    keys = [KeyInfo(*row, current=row[0] == ring.current_kid) for row in rows]
    counts = {column.name: await column_key_counts(db, column) for column in columns}
    return KeysStatus(root_id=root_kid(ring.roots[0]), keys=keys, columns=counts)
