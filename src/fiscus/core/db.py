"""Database access: the async engine, and the unit of work that makes a use case one transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

from fiscus.core.tenancy import TENANT_INFO_KEY

T = TypeVar("T")

# Failures that say "try the same transaction again", never "the request was wrong".
RETRYABLE = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected, pg_errors.LockNotAvailable)
MAX_RETRIES = 8
# The role tenant-scoped transactions run as; row-level security policies apply to it.
TENANT_ROLE = "fiscus_app"
# The tenant for the RLS policies and the role they apply to, set at the start of every
# tenant-scoped transaction (psycopg placeholder; `:tenant` in the SQLAlchemy form).
TENANT_SQL = (
    f"SELECT set_config('fiscus.tenant_id', %s, true), set_config('role', '{TENANT_ROLE}', true)"
)


def database_cause(error: BaseException) -> BaseException:
    """The driver's error under SQLAlchemy's wrapper (or the error itself)."""
    return error.orig if isinstance(error, DBAPIError) and error.orig is not None else error


def retryable(error: BaseException) -> bool:
    """True when the same transaction may simply be tried again."""
    return isinstance(database_cause(error), RETRYABLE)


def sqlalchemy_url(url: str) -> str:
    """Normalise any PostgreSQL URL to the psycopg 3 SQLAlchemy dialect."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise ValueError(f"fiscus needs PostgreSQL; got a {parsed.drivername} URL")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """The same URL as libpq (psql, pg_dump, psycopg, procrastinate) understands it."""
    parsed = make_url(sqlalchemy_url(url))
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def redact_url(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def _leave_autocommit(
    dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState
) -> None:
    """Pool hook, as a connection is given back: out of autocommit mode, no transaction.

    Units of work switch autocommit on to send their own `BEGIN` (`_begin_as_tenant`), and
    single-statement mode does for its one query. The pool runs this before the connection
    can be checked out again (in the returning task's greenlet, so the driver's async
    calls are allowed); if it raises, the pool logs it and throws the connection away, so
    no unit of work ever runs its statements one commit each.
    """
    if not state.asyncio_safe or not dbapi_connection.autocommit:
        return
    handle = dbapi_connection.driver_connection
    if handle.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        dbapi_connection.rollback()
    dbapi_connection.autocommit = False


async def _rows(cursor: psycopg.AsyncCursor[Any], *, every: bool) -> list[tuple[Any, ...]]:
    """The first row (`every=False`) or every row of the cursor's current result, if it
    is a row set. (`cursor.description` would say whether it is, but builds a list of
    column objects to say it: a hot path's measurable cost.)"""
    result = cursor.pgresult
    if result is None or result.status != psycopg.pq.ExecStatus.TUPLES_OK:
        return []
    if every:
        return await cursor.fetchall()
    row = await cursor.fetchone()
    return [] if row is None else [row]


class Database:
    """One engine per process, shared by every unit of work."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.url = sqlalchemy_url(url)
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_recycle=1800,
            pool_timeout=10,
            connect_args={"connect_timeout": 5, "application_name": "fiscus"},
            # A database error's message otherwise quotes the statement's parameters, and
            # logged tracebacks would carry emails, phone numbers and sealed values.
            hide_parameters=True,
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        event.listen(self.engine.sync_engine, "reset", _leave_autocommit)

    def uow(
        self, *, tenant_id: uuid.UUID | None = None, single_statement: bool = False
    ) -> UnitOfWork:
        """A new unit of work; use `async with db.uow(tenant_id=...) as uow:`.

        `single_statement=True` is for a use case that is one statement and nothing else
        (a posting, a balance read): see `UnitOfWork.fetch_one`.
        """
        return UnitOfWork(
            self.engine, self.sessions, tenant_id=tenant_id, single_statement=single_statement
        )

    async def run(
        self,
        operation: Callable[[UnitOfWork], Awaitable[T]],
        *,
        tenant_id: uuid.UUID | None = None,
        single_statement: bool = False,
        retries: int = MAX_RETRIES,
        retry_when: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Run `operation` in one unit of work, again after a serialization failure, a
        deadlock or a lock timeout (and after any error `retry_when` accepts).

        This is the one retrying runner of fiscus. A retried operation starts from scratch
        in a new transaction, so it must not have side effects outside the database
        (events go through the outbox for this reason).
        """
        assert 0 <= retries <= MAX_RETRIES
        for attempt in range(retries + 1):
            try:
                async with self.uow(tenant_id=tenant_id, single_statement=single_statement) as uow:
                    return await operation(uow)
            except (DBAPIError, psycopg.Error) as error:
                if attempt == retries or not (
                    retryable(error) or (retry_when is not None and retry_when(error))
                ):
                    raise
                await asyncio.sleep(min(0.1, 0.002 * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


class UnitOfWork:
    """One database transaction for one use case: commits on success, rolls back on error.

    When a tenant is given, the transaction runs as the `fiscus_app` role with the tenant in
    the `fiscus.tenant_id` setting, which row-level security policies read, so a forgotten
    filter cannot leak another tenant's rows. Without a tenant (system work that spans
    tenants: relays, verifiers) it runs as the login role, which the policies do not bind.

    Single-statement mode is an optimisation for a use case that is exactly one statement
    (a posting whose database function writes everything, a balance read): it has no
    session, and its one `fetch_one` sends `BEGIN; <tenant switch>; <statement>; COMMIT`
    as one simple-protocol query, one network round trip instead of three. The statement
    commits as it runs, so such a use case decides everything inside that statement; any
    use case that writes anything else uses the normal mode.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        sessions: async_sessionmaker[AsyncSession],
        *,
        tenant_id: uuid.UUID | None,
        single_statement: bool = False,
    ) -> None:
        self._engine = engine
        self._sessions = sessions
        self.tenant_id = tenant_id
        self.single_statement = single_statement
        self._session: AsyncSession | None = None
        self._entered = False
        self._sent = False
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    @property
    def session(self) -> AsyncSession:
        """The session of this transaction; only valid inside `async with`."""
        assert not self.single_statement, "a single-statement unit of work has no session"
        assert self._session is not None, "use the unit of work inside `async with`"
        return self._session

    @property
    def active(self) -> bool:
        """True inside `async with`: helpers assert this instead of committing themselves."""
        return self._entered

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    async def driver(self) -> psycopg.AsyncConnection[Any]:
        """The psycopg connection under the session, in this same transaction (for hot
        paths that bypass the ORM: prepared calls, pipelines)."""
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        handle = raw.driver_connection
        assert isinstance(handle, psycopg.AsyncConnection)
        return handle

    async def fetch_one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """Run one psycopg statement (`%s`, or `%b` for binary parameters) in this
        transaction and return its first row (None if it returns none).

        In single-statement mode this is the whole transaction, sent in one round trip
        with the parameters bound client-side (psycopg's own literal quoting). On an error
        the server skips the rest of the string and the transaction is rolled back.
        (psycopg's pipeline mode is also one round trip, but its async wait spins on the
        writable socket and burned a core.)
        """
        rows = await self._fetch(sql, params, every=False)
        return rows[0] if rows else None

    async def fetch_all(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """As `fetch_one`, but every row the statement returns."""
        return await self._fetch(sql, params, every=True)

    async def _fetch(
        self, sql: str, params: tuple[Any, ...], *, every: bool
    ) -> list[tuple[Any, ...]]:
        assert self.active, "use the unit of work inside `async with`"
        if not self.single_statement:
            cursor = await (await self.driver()).execute(sql, params)
            return await _rows(cursor, every=every)
        assert not self._sent, "a single-statement unit of work runs one statement"
        self._sent = True
        async with self._engine.connect() as connection:
            raw = await connection.get_raw_connection()
            handle = raw.driver_connection
            assert isinstance(handle, psycopg.AsyncConnection)
            binder = psycopg.AsyncClientCursor(handle)
            parts = ["BEGIN"]
            if self.tenant_id is not None:
                parts.append(binder.mogrify(TENANT_SQL, (str(self.tenant_id),)))
            parts += [binder.mogrify(sql.replace("%b", "%s"), params), "COMMIT"]
            await handle.set_autocommit(True)
            try:
                cursor = await handle.execute("; ".join(parts))
                for _ in parts[:-2]:  # the results of BEGIN and of the tenant switch
                    assert cursor.nextset(), "the statement returned no result"
                return await _rows(cursor, every=every)
            except BaseException:
                await handle.execute("ROLLBACK")
                raise
            finally:
                await handle.set_autocommit(False)

    async def __aenter__(self) -> Self:
        assert not self._entered, "a unit of work is entered once"
        self._entered = True
        if self.single_statement:
            return self
        self._session = self._sessions()
        await self._session.begin()
        if self.tenant_id is not None:
            # The ORM criteria hook (core.tenancy) filters TenantScoped tables on this.
            self._session.info[TENANT_INFO_KEY] = self.tenant_id
            await self._begin_as_tenant(self.tenant_id)
        return self

    async def _begin_as_tenant(self, tenant_id: uuid.UUID) -> None:
        """`BEGIN` and the tenant switch (the tenant for the RLS policies, the role they
        apply to) in one round trip.

        psycopg opens a transaction by sending its own `BEGIN` and waiting for it before
        the first statement: with the tenant switch after it, two round trips. Here the
        connection is put in autocommit mode (a client-side flag, nothing is sent), so
        psycopg sends no `BEGIN` of its own, and our `BEGIN; SELECT set_config(...)` opens
        the transaction on the server as one simple-protocol query. The statements that
        follow run inside it: psycopg's commit and rollback act on the server's
        transaction status, which is "in transaction", so SQLAlchemy's commit/rollback
        end it as usual. The pool switches autocommit off again (`_leave_autocommit`)
        before anyone else can get the connection.
        """
        handle = await self.driver()
        await handle.set_autocommit(True)
        binder = psycopg.AsyncClientCursor(handle)
        await handle.execute("BEGIN; " + binder.mogrify(TENANT_SQL, (str(tenant_id),)))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self._session
        self._entered = False
        if session is not None:
            try:
                if exc_type is None:
                    await session.commit()
                else:
                    await session.rollback()
            finally:
                await session.close()
                self._session = None
        if exc_type is None:
            for callback in self._after_commit:
                await callback()
