"""Unit of work, retries and tenant row-level security on the real database."""

import asyncio
import uuid

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bench.request_path.proxy import proxied
from fiscus.core.db import Database, UnitOfWork, database_cause
from fiscus.core.events import emit

TENANT_A = uuid.UUID("01900000-0000-7000-8000-00000000000a")
TENANT_B = uuid.UUID("01900000-0000-7000-8000-00000000000b")


async def test_unit_of_work_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    async with db.uow(tenant_id=TENANT_A) as uow:
        await emit(uow, tenant_id=TENANT_A, type="thing.created", subject="thing/1", payload={})
    with pytest.raises(RuntimeError):
        async with db.uow(tenant_id=TENANT_A) as uow:
            await emit(uow, tenant_id=TENANT_A, type="thing.created", subject="thing/2", payload={})
            raise RuntimeError("boom")
    async with db.uow() as uow:
        subjects = (await uow.session.execute(text("SELECT subject FROM events"))).scalars().all()
    assert subjects == ["thing/1"]


async def test_after_commit_callbacks_run_only_after_commit(db: Database) -> None:
    ran: list[str] = []

    async def mark() -> None:
        ran.append("x")

    async with db.uow() as uow:
        uow.after_commit(mark)
        assert ran == []
    assert ran == ["x"]
    with pytest.raises(RuntimeError):
        async with db.uow() as uow:
            uow.after_commit(mark)
            raise RuntimeError
    assert ran == ["x"]


async def test_row_level_security_hides_other_tenants_even_without_a_filter(db: Database) -> None:
    for tenant in (TENANT_A, TENANT_B):
        async with db.uow(tenant_id=tenant) as uow:
            await emit(uow, tenant_id=tenant, type="thing.created", subject=str(tenant), payload={})
    async with db.uow(tenant_id=TENANT_A) as uow:
        seen = (await uow.session.execute(text("SELECT subject FROM events"))).scalars().all()
        role = await uow.session.scalar(text("SELECT current_user"))
    assert seen == [str(TENANT_A)]
    assert role == "fiscus_app"


async def test_a_tenant_cannot_write_rows_for_another_tenant(db: Database) -> None:
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.uow(tenant_id=TENANT_A) as uow:
            await emit(uow, tenant_id=TENANT_B, type="thing.created", subject="x", payload={})


async def test_run_retries_serialization_failures(db: Database) -> None:
    attempts: list[int] = []

    async def flaky(uow: object) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            async with db.uow() as other:  # a real serialization failure raised by PostgreSQL
                await other.session.execute(text("DO $$ BEGIN RAISE serialization_failure; END $$"))
        return "done"

    assert await db.run(flaky) == "done"
    assert len(attempts) == 3


async def test_run_does_not_retry_other_errors(db: Database) -> None:
    attempts: list[int] = []

    async def broken(uow: object) -> None:
        attempts.append(1)
        async with db.uow() as other:
            await other.session.execute(text("SELECT 1/0"))

    with pytest.raises(DBAPIError):
        await db.run(broken)
    assert attempts == [1]


async def test_concurrent_units_of_work_do_not_share_sessions(db: Database) -> None:
    async def one(index: int) -> int:
        async with db.uow(tenant_id=TENANT_A) as uow:
            return int(await uow.session.scalar(text(f"SELECT {index}")) or 0)

    assert await asyncio.gather(*(one(i) for i in range(30))) == list(range(30))


async def test_a_database_error_does_not_quote_the_statement_parameters(db: Database) -> None:
    # Error messages end up in logged tracebacks; parameters carry emails and phone numbers.
    with pytest.raises(DBAPIError) as raised:
        async with db.uow() as uow:
            await uow.session.execute(
                text("SELECT CAST(:value AS text), 1 / 0"), {"value": "zelda.quixote@example.com"}
            )
    assert "division by zero" in str(raised.value)
    assert "zelda.quixote@example.com" not in str(raised.value)


async def test_single_statement_mode_is_one_whole_transaction_for_the_tenant(
    db: Database,
) -> None:
    insert = (
        "INSERT INTO events (id, tenant_id, type, subject, payload, created_at)"
        " VALUES (gen_random_uuid(), %s, 'thing.created', %s, '{}', now())"
        " RETURNING current_user, current_setting('fiscus.tenant_id')"
    )
    async with db.uow(tenant_id=TENANT_A, single_statement=True) as uow:
        row = await uow.fetch_one(insert, (TENANT_A, "one"))
        with pytest.raises(AssertionError, match="one statement"):
            await uow.fetch_one("SELECT 1", ())
        with pytest.raises(AssertionError, match="no session"):
            uow.session  # noqa: B018 - the property refuses
    assert row == ("fiscus_app", str(TENANT_A))
    # Row-level security binds it like any unit of work; an error rolls it back.
    with pytest.raises(psycopg.Error, match="row-level security"):
        async with db.uow(tenant_id=TENANT_A, single_statement=True) as uow:
            await uow.fetch_one(insert, (TENANT_B, "other"))
    async with db.uow() as uow:
        subjects = (await uow.session.execute(text("SELECT subject FROM events"))).scalars().all()
    assert subjects == ["one"]


async def test_run_retries_driver_level_failures_and_what_retry_when_accepts(
    db: Database,
) -> None:
    attempts: list[int] = []

    async def flaky(uow: UnitOfWork) -> str:
        attempts.append(1)
        if len(attempts) == 1:  # raised by psycopg itself, not wrapped by SQLAlchemy
            await uow.fetch_one("DO $$ BEGIN RAISE serialization_failure; END $$", ())
        if len(attempts) == 2:
            await uow.fetch_one("DO $$ BEGIN RAISE unique_violation; END $$", ())
        return "done"

    def unique(error: BaseException) -> bool:
        return isinstance(database_cause(error), psycopg.errors.UniqueViolation)

    assert await db.run(flaky, single_statement=True, retry_when=unique) == "done"
    assert len(attempts) == 3
    attempts.clear()
    with pytest.raises(psycopg.errors.UniqueViolation):
        await db.run(flaky, single_statement=True)
    assert len(attempts) == 2


async def test_a_tenant_unit_of_work_sends_begin_with_its_tenant_switch(
    clean_database: str,
) -> None:
    # Counted on the wire: BEGIN and the tenant switch are one round trip (psycopg's own
    # BEGIN was one more), then one per statement, then COMMIT.
    with proxied(clean_database) as (proxy, url):
        counted = Database(url, pool_size=1, max_overflow=0)
        try:
            async with counted.uow(tenant_id=TENANT_A) as uow:  # opens the pooled connection
                await uow.session.execute(text("SELECT 1"))
            proxy.reset()
            async with counted.uow(tenant_id=TENANT_A) as uow:
                await emit(uow, tenant_id=TENANT_A, type="thing.created", subject="s/1", payload={})
                row = (
                    await uow.session.execute(
                        text("SELECT current_user, current_setting('fiscus.tenant_id')")
                    )
                ).one()
            trips = sum(t for t, _ in proxy.snapshot().values())
        finally:
            await counted.dispose()
    assert tuple(row) == ("fiscus_app", str(TENANT_A))
    assert trips == 4, proxy.snapshot()  # BEGIN + switch, the insert, the select, COMMIT


async def test_a_failed_tenant_unit_of_work_leaves_its_connection_transactional(
    clean_database: str,
) -> None:
    # One pooled connection, so every unit of work below gets the same one back: after a
    # database error, a Python error and a success, it is still out of autocommit mode, and
    # a unit of work is still all or nothing (not one commit per statement).
    one = Database(clean_database, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(DBAPIError, match="row-level security"):
            async with one.uow(tenant_id=TENANT_A) as uow:
                await emit(uow, tenant_id=TENANT_A, type="thing.created", subject="a", payload={})
                await emit(uow, tenant_id=TENANT_B, type="thing.created", subject="b", payload={})
        with pytest.raises(RuntimeError):
            async with one.uow(tenant_id=TENANT_A) as uow:
                await emit(uow, tenant_id=TENANT_A, type="thing.created", subject="c", payload={})
                raise RuntimeError("boom")
        async with one.uow(tenant_id=TENANT_A) as uow:
            await emit(uow, tenant_id=TENANT_A, type="thing.created", subject="d", payload={})
        async with one.uow() as uow:
            assert (await uow.driver()).autocommit is False
            role = (await uow.session.execute(text("SELECT current_user"))).scalar_one()
            subjects = (
                (await uow.session.execute(text("SELECT subject FROM events"))).scalars().all()
            )
    finally:
        await one.dispose()
    assert role != "fiscus_app"  # the tenant role ended with its transaction
    assert subjects == ["d"]
