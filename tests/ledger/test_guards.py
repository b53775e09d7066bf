"""The database itself refuses what the ledger must never do, whatever SQL is sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from fiscus.core.db import Database, libpq_url
from tests.ledger.factories import ledger_context, move, open_account

WALLET = ["debits_must_not_exceed_credits"]


@pytest.fixture
def sql(clean_database: str) -> Iterator[psycopg.Connection]:
    """A raw connection as the login role, one transaction per statement block."""
    with psycopg.connect(libpq_url(clean_database)) as connection:
        yield connection


async def _posted(db: Database) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    outcome = await move(db, ctx, bank.id, wallet.id, 100)
    return ctx.tenant_id, bank.id, wallet.id, outcome.transfer_id


def _refused(
    connection: psycopg.Connection, statement: str, error: type[Exception], *args: object
) -> None:
    with pytest.raises(error), connection.transaction():
        connection.execute(statement, args or None)


async def test_entries_cannot_be_updated_or_deleted(db: Database, sql: psycopg.Connection) -> None:
    await _posted(db)
    _refused(
        sql,
        "UPDATE ledger_entries SET posted_amount = posted_amount + 1",
        errors.IntegrityConstraintViolation,
    )
    _refused(sql, "DELETE FROM ledger_entries", errors.IntegrityConstraintViolation)
    assert sql.execute("SELECT count(*) FROM ledger_entries").fetchone() == (2,)


async def test_posted_transfers_cannot_change_or_disappear(
    db: Database, sql: psycopg.Connection
) -> None:
    *_, transfer_id = await _posted(db)
    _refused(
        sql,
        "UPDATE ledger_transfers SET amount = 1 WHERE id = %s",
        errors.IntegrityConstraintViolation,
        transfer_id,
    )
    _refused(
        sql,
        "UPDATE ledger_transfers SET status = 'voided' WHERE id = %s",
        errors.IntegrityConstraintViolation,
        transfer_id,
    )
    _refused(
        sql,
        "DELETE FROM ledger_transfers WHERE id = %s",
        errors.IntegrityConstraintViolation,
        transfer_id,
    )


async def test_a_pending_transfer_may_only_change_its_status(
    db: Database, sql: psycopg.Connection
) -> None:
    ctx = ledger_context()
    a = await open_account(db, ctx, normal_side="debit")
    b = await open_account(db, ctx)
    hold = await move(db, ctx, a.id, b.id, 5, pending=True)
    _refused(
        sql,
        "UPDATE ledger_transfers SET amount = 6 WHERE id = %s",
        errors.IntegrityConstraintViolation,
        hold.transfer_id,
    )
    _refused(
        sql,
        "UPDATE ledger_transfers SET status = 'pending', description = 'x' WHERE id = %s",
        errors.IntegrityConstraintViolation,
        hold.transfer_id,
    )


async def test_unbalanced_entries_are_refused_at_commit(
    db: Database, sql: psycopg.Connection
) -> None:
    tenant, bank, wallet, _ = await _posted(db)
    transfer = uuid.uuid4()
    insert_transfer = (
        "INSERT INTO ledger_transfers (tenant_id, id, kind, status, pending, currency, amount,"
        " effective_at, recorded_at)"
        " VALUES (%s, %s, 'transfer', 'posted', false, 'EUR', 5, now(), now())"
    )
    insert_entry = (
        "INSERT INTO ledger_entries (tenant_id, transfer_id, leg, account_id, currency, direction,"
        " posted_amount, pending_amount, account_version, debits_pending, debits_posted,"
        " credits_pending, credits_posted, recorded_at)"
        " VALUES (%s, %s, %s, %s, 'EUR', %s, %s, 0, %s, 0, 0, 0, 0, now())"
    )
    with pytest.raises(errors.CheckViolation), sql.transaction():
        sql.execute(insert_transfer, (tenant, transfer))
        # Accepted statement by statement (the check is deferred) ...
        sql.execute(insert_entry, (tenant, transfer, 0, bank, "debit", 5, 100))
        sql.execute(insert_entry, (tenant, transfer, 1, wallet, "credit", 4, 100))
        # ... and refused when the transaction commits.
    with sql.transaction():
        sql.execute(insert_transfer, (tenant, transfer))
        sql.execute(insert_entry, (tenant, transfer, 0, bank, "debit", 5, 100))
        sql.execute(insert_entry, (tenant, transfer, 1, wallet, "credit", 5, 100))
    assert sql.execute("SELECT count(*) FROM ledger_entries").fetchone() == (4,)


async def test_balance_checks_refuse_overdrawing_and_negative_balances(
    db: Database, sql: psycopg.Connection
) -> None:
    _, _, wallet, _ = await _posted(db)
    _refused(
        sql,
        "UPDATE ledger_accounts SET debits_posted = 101 WHERE id = %s",
        errors.CheckViolation,
        wallet,
    )
    _refused(
        sql,
        "UPDATE ledger_accounts SET credits_posted = -1 WHERE id = %s",
        errors.CheckViolation,
        wallet,
    )
    _refused(
        sql,
        "UPDATE ledger_accounts SET credits_must_not_exceed_debits = true WHERE id = %s",
        errors.CheckViolation,
        wallet,
    )
    with sql.transaction():
        sql.execute("UPDATE ledger_accounts SET debits_posted = 100 WHERE id = %s", (wallet,))


async def test_idempotency_keys_and_resolutions_are_unique(
    db: Database, sql: psycopg.Connection
) -> None:
    tenant, _, _, transfer_id = await _posted(db)
    insert = (
        "INSERT INTO ledger_transfers (tenant_id, id, idempotency_key, kind, status, pending,"
        " parent_id, currency, amount, effective_at, recorded_at)"
        " VALUES (%s, %s, %s, %s, 'posted', false, %s, 'EUR', 0, now(), now())"
    )
    with sql.transaction():
        sql.execute(insert, (tenant, uuid.uuid4(), "key", "transfer", None))
    _refused(sql, insert, errors.UniqueViolation, tenant, uuid.uuid4(), "key", "transfer", None)
    with sql.transaction():
        sql.execute(insert, (tenant, uuid.uuid4(), None, "reversal", transfer_id))
    _refused(
        sql, insert, errors.UniqueViolation, tenant, uuid.uuid4(), None, "reversal", transfer_id
    )


async def test_row_level_security_hides_other_tenants(db: Database) -> None:
    tenant, *_ = await _posted(db)
    async with db.uow(tenant_id=uuid.uuid4()) as uow:
        from sqlalchemy import text

        for table in ("ledger_accounts", "ledger_transfers", "ledger_entries"):
            count = await uow.session.execute(text(f"SELECT count(*) FROM {table}"))
            assert count.scalar_one() == 0
    async with db.uow(tenant_id=tenant) as uow:
        from sqlalchemy import text

        count = await uow.session.execute(text("SELECT count(*) FROM ledger_entries"))
        assert count.scalar_one() == 2


async def test_a_leg_added_after_an_early_check_is_still_checked(
    db: Database, sql: psycopg.Connection
) -> None:
    tenant, bank, wallet, _ = await _posted(db)
    transfer = uuid.uuid4()
    entry = (
        "INSERT INTO ledger_entries (tenant_id, transfer_id, leg, account_id, currency, direction,"
        " posted_amount, pending_amount, account_version, debits_pending, debits_posted,"
        " credits_pending, credits_posted, recorded_at)"
        " VALUES (%s, %s, %s, %s, 'EUR', %s, 5, 0, %s, 0, 0, 0, 0, now())"
    )
    with pytest.raises(errors.CheckViolation), sql.transaction():
        sql.execute(
            "INSERT INTO ledger_transfers (tenant_id, id, kind, status, pending, currency,"
            " amount, effective_at, recorded_at)"
            " VALUES (%s, %s, 'transfer', 'posted', false, 'EUR', 5, now(), now())",
            (tenant, transfer),
        )
        sql.execute(entry, (tenant, transfer, 0, bank, "debit", 200))
        sql.execute(entry, (tenant, transfer, 1, wallet, "credit", 200))
        sql.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checks the balanced pair now
        sql.execute("SET CONSTRAINTS ALL DEFERRED")
        sql.execute(entry, (tenant, transfer, 2, wallet, "credit", 201))
