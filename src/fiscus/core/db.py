"""Database access: the async engine, and the unit of work that makes a use case one transaction."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

from psycopg import errors as pg_errors
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from fiscus.core.tenancy import TENANT_INFO_KEY

T = TypeVar("T")

# Failures that say "try the same transaction again", never "the request was wrong".
RETRYABLE = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected, pg_errors.LockNotAvailable)
MAX_RETRIES = 8
# The role tenant-scoped transactions run as; row-level security policies apply to it.
TENANT_ROLE = "fiscus_app"


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

    def uow(self, *, tenant_id: uuid.UUID | None = None) -> UnitOfWork:
        """A new unit of work; use `async with db.uow(tenant_id=...) as uow:`."""
        return UnitOfWork(self.sessions, tenant_id=tenant_id)

    async def run(
        self,
        operation: Callable[[UnitOfWork], Awaitable[T]],
        *,
        tenant_id: uuid.UUID | None = None,
        retries: int = MAX_RETRIES,
    ) -> T:
        """Run `operation` in one transaction, retrying serialization failures and deadlocks.

        A retried operation starts from scratch in a new transaction, so it must not have
        side effects outside the database (events go through the outbox for this reason).
        """
        assert 0 <= retries <= MAX_RETRIES
        for attempt in range(retries + 1):
            try:
                async with self.uow(tenant_id=tenant_id) as uow:
                    return await operation(uow)
            except DBAPIError as error:
                if not isinstance(error.orig, RETRYABLE) or attempt == retries:
                    raise
                await asyncio.sleep(min(0.2, 0.005 * 2**attempt))
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
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, tenant_id: uuid.UUID | None
    ) -> None:
        self._sessions = sessions
        self.tenant_id = tenant_id
        self._session: AsyncSession | None = None
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    @property
    def session(self) -> AsyncSession:
        """The session of this transaction; only valid inside `async with`."""
        assert self._session is not None, "use the unit of work inside `async with`"
        return self._session

    @property
    def active(self) -> bool:
        """True inside `async with`: helpers assert this instead of committing themselves."""
        return self._session is not None

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` once the transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    async def __aenter__(self) -> Self:
        assert self._session is None, "a unit of work is entered once"
        self._session = self._sessions()
        await self._session.begin()
        if self.tenant_id is not None:
            # The ORM criteria hook (core.tenancy) filters TenantScoped tables on this.
            self._session.info[TENANT_INFO_KEY] = self.tenant_id
            # One round trip: the tenant for the RLS policies, and the role they apply to.
            await self._session.execute(
                text(
                    "SELECT set_config('fiscus.tenant_id', :tenant, true),"
                    f" set_config('role', '{TENANT_ROLE}', true)"
                ),
                {"tenant": str(self.tenant_id)},
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self.session
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
