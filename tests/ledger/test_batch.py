"""Batches: atomic, independent, linked chains, and the slow path for reused ids."""

from __future__ import annotations

import uuid

import pytest

from fiscus.core.db import Database
from fiscus.ledger import queries, service
from fiscus.ledger.codes import ResultCode
from fiscus.ledger.errors import BatchRefused
from tests.ledger.factories import ledger_context, open_account, two_legs

WALLET = ["debits_must_not_exceed_credits"]


async def test_independent_batch_reports_each_item_in_order(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    transfers = [
        two_legs(bank.id, wallet.id, 10),
        two_legs(wallet.id, bank.id, 15),  # more than the wallet holds
        two_legs(wallet.id, bank.id, 10),
        two_legs(wallet.id, wallet.id, 1),  # same account twice
        two_legs(bank.id, uuid.uuid4(), 1),
    ]
    items = await service.transfer_batch(db=db, ctx=ctx, transfers=transfers, mode="independent")
    assert [item.code for item in items] == [
        "ok",
        ResultCode.EXCEEDS_CREDITS,
        "ok",
        ResultCode.ACCOUNTS_MUST_BE_DIFFERENT,
        ResultCode.ACCOUNT_NOT_FOUND,
    ]
    assert [item.status for item in items] == [
        "posted",
        "rejected",
        "posted",
        "rejected",
        "rejected",
    ]
    assert (await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)).balance == 0
    page, _ = await queries.entries_page(
        db=db, ctx=ctx, account_id=wallet.id, limit=10, cursor=None
    )
    assert [(e.account_version, e.balance) for e in page] == [(2, 0), (1, 10)]
    assert (await queries.trial_balance(db=db, ctx=ctx)).balanced


async def test_atomic_batch_is_all_or_nothing(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    transfers = [two_legs(bank.id, wallet.id, 10), two_legs(wallet.id, bank.id, 11)]
    with pytest.raises(BatchRefused) as refused:
        await service.transfer_batch(db=db, ctx=ctx, transfers=transfers, mode="atomic")
    assert refused.value.extra == {"index": 1, "code": "exceeds_credits"}
    assert (await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)).balance == 0
    items = await service.transfer_batch(db=db, ctx=ctx, transfers=transfers[:1], mode="atomic")
    assert [item.code for item in items] == ["ok"]


async def test_linked_chain_fails_as_a_unit(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    transfers = [
        two_legs(bank.id, wallet.id, 10, linked=True),
        two_legs(wallet.id, bank.id, 50),  # refused: the chain above is undone too
        two_legs(bank.id, wallet.id, 3, linked=True),
        two_legs(wallet.id, bank.id, 2),
        two_legs(bank.id, wallet.id, 1, linked=True),  # the batch ends inside a chain
    ]
    items = await service.transfer_batch(db=db, ctx=ctx, transfers=transfers, mode="independent")
    assert [item.code for item in items] == [
        ResultCode.LINKED_EVENT_FAILED,
        ResultCode.EXCEEDS_CREDITS,
        "ok",
        "ok",
        ResultCode.LINKED_EVENT_CHAIN_OPEN,
    ]
    assert (await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)).balance == 1


async def test_batch_retry_with_client_ids_takes_the_database_path(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    ids = [uuid.uuid4() for _ in range(3)]
    transfers = [two_legs(bank.id, wallet.id, 5, id=i) for i in ids]
    first = await service.transfer_batch(db=db, ctx=ctx, transfers=transfers, mode="independent")
    assert [item.code for item in first] == ["ok"] * 3
    changed = [*transfers[:2], two_legs(bank.id, wallet.id, 6, id=ids[2])]
    again = await service.transfer_batch(db=db, ctx=ctx, transfers=changed, mode="independent")
    assert [item.code for item in again] == [
        "exists",
        "exists",
        ResultCode.EXISTS_WITH_DIFFERENT_AMOUNT,
    ]
    assert [item.transfer_id for item in again[:2]] == ids[:2]
    assert (await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)).balance == 15


async def test_pending_items_in_a_batch_hold_funds(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    transfers = [
        two_legs(bank.id, wallet.id, 10),
        two_legs(wallet.id, bank.id, 8, pending=True, timeout_s=30),
        two_legs(wallet.id, bank.id, 3),
    ]
    items = await service.transfer_batch(db=db, ctx=ctx, transfers=transfers, mode="independent")
    assert [item.code for item in items] == ["ok", "ok", ResultCode.EXCEEDS_CREDITS]
    stored = await queries.transfer_get(db=db, ctx=ctx, transfer_id=items[1].transfer_id)
    assert stored.status == "pending" and stored.timeout_at is not None
