"""The ledger's writes run inside a caller's unit of work (issue 11, part 2).

What the banking module needs: in ONE transaction, open an account, post to it, and write
its own rows (an event, an audit record); a failure after the posting rolls all of it
back, and success commits all of it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from fiscus.access.context import Context
from fiscus.audit.service import audit_record
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import emit
from fiscus.ledger import service
from fiscus.ledger.errors import BatchRefused
from fiscus.ledger.schemas import AccountCreate, TransferAction, TransferCreate
from tests.ledger.factories import ledger_context, move, open_account, two_legs

WALLET = ["debits_must_not_exceed_credits"]
COUNTED = (
    "ledger_accounts",
    "ledger_transfers",
    "ledger_entries",
    "events",
    "audit_events",
)


class AfterThePosting(Exception):
    """The caller's own step failing once the ledger has written."""


def _account(code: str, *, side: str = "credit", flags: list[str] | None = None) -> AccountCreate:
    return AccountCreate.model_validate(
        {
            "code": code,
            "name": "Deposit account",
            "currency": "EUR",
            "type": "liability" if side == "credit" else "asset",
            "normal_side": side,
            "flags": flags or [],
        }
    )


async def _counts(db: Database) -> dict[str, int]:
    async with db.uow() as uow:
        return {
            table: int(await uow.session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
            for table in COUNTED
        }


async def _open_and_fund(uow: UnitOfWork, ctx: Context) -> dict[str, Any]:
    """A deposit opening as the banking module would write it: two ledger accounts, a
    funding transfer, the module's own event and audit record."""
    bank = await service.account_create_in(uow, ctx=ctx, request=_account("bank", side="debit"))
    deposit = await service.account_create_in(
        uow, ctx=ctx, request=_account("deposit", flags=WALLET)
    )
    outcome = await service.transfer_create_in(
        uow, ctx=ctx, request=two_legs(bank.id, deposit.id, 500), idempotency_key="opening"
    )
    await emit(
        uow,
        tenant_id=ctx.tenant_id,
        type="deposit.opened",
        subject=f"deposit/{deposit.id}",
        payload={"account_id": str(deposit.id)},
    )
    await audit_record(uow, ctx=ctx, action="deposit.opened", object_id=deposit.id)
    return {"bank": bank, "deposit": deposit, "outcome": outcome}


async def test_a_failure_after_the_posting_rolls_back_the_accounts_posting_and_module_rows(
    db: Database,
) -> None:
    ctx = ledger_context()
    with pytest.raises(AfterThePosting):
        async with db.uow(tenant_id=ctx.tenant_id) as uow:
            await _open_and_fund(uow, ctx)
            raise AfterThePosting
    assert await _counts(db) == dict.fromkeys(COUNTED, 0)


async def test_a_database_error_after_the_posting_rolls_all_of_it_back(db: Database) -> None:
    ctx = ledger_context()
    with pytest.raises(Exception, match="division by zero"):
        async with db.uow(tenant_id=ctx.tenant_id) as uow:
            await _open_and_fund(uow, ctx)
            await uow.session.execute(text("SELECT 1 / 0"))
    assert await _counts(db) == dict.fromkeys(COUNTED, 0)


async def test_the_composed_use_case_commits_as_one(db: Database) -> None:
    ctx = ledger_context()
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        opened = await _open_and_fund(uow, ctx)
        # Inside the transaction the posting is visible to the caller's own reads.
        seen = await uow.session.scalar(
            text("SELECT credits_posted FROM ledger_accounts WHERE id = :id"),
            {"id": opened["deposit"].id},
        )
        assert seen == 500
    counts = await _counts(db)
    # 2 accounts; 1 transfer with 2 entries; transfer.posted + deposit.opened; 2 account
    # creations audited by the ledger + the module's own record.
    assert counts == {
        "ledger_accounts": 2,
        "ledger_transfers": 1,
        "ledger_entries": 2,
        "events": 2,
        "audit_events": 3,
    }


async def test_every_ledger_write_rolls_back_with_the_callers_unit_of_work(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    posted = await move(db, ctx, bank.id, wallet.id, 300)
    hold = await move(db, ctx, wallet.id, bank.id, 100, pending=True)
    before = await _counts(db)
    pending = TransferCreate.model_validate(
        {
            "debit_account_id": wallet.id,
            "credit_account_id": bank.id,
            "amount": 50,
            "currency": "EUR",
            "pending": True,
        }
    )
    with pytest.raises(AfterThePosting):
        async with db.uow(tenant_id=ctx.tenant_id) as uow:
            await service.account_set_limit_in(
                uow, ctx=ctx, account_id=wallet.id, overdraft_limit=1000
            )
            await service.transfer_reverse_in(
                uow, ctx=ctx, transfer_id=posted.transfer_id, request=TransferAction()
            )
            await service.transfer_void_pending_in(
                uow, ctx=ctx, pending_id=hold.transfer_id, request=TransferAction()
            )
            await service.transfer_create_in(uow, ctx=ctx, request=pending)
            await service.transfer_batch_in(
                uow, ctx=ctx, transfers=[two_legs(bank.id, wallet.id, 7)] * 3, mode="atomic"
            )
            await service.account_close_in(uow, ctx=ctx, account_id=wallet.id)
            raise AfterThePosting
    assert await _counts(db) == before
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        row = (
            await uow.session.execute(
                text(
                    "SELECT overdraft_limit, closed_at, credits_posted, debits_pending"
                    " FROM ledger_accounts WHERE id = :id"
                ),
                {"id": wallet.id},
            )
        ).one()
    assert tuple(row) == (None, None, 300, 100)


async def test_a_refused_atomic_batch_in_a_callers_unit_of_work_refuses_the_whole_use_case(
    db: Database,
) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    before = await _counts(db)
    with pytest.raises(BatchRefused):
        async with db.uow(tenant_id=ctx.tenant_id) as uow:
            await emit(
                uow, tenant_id=ctx.tenant_id, type="payout.started", subject="p/1", payload={}
            )
            await service.transfer_batch_in(
                uow,
                ctx=ctx,
                transfers=[two_legs(bank.id, wallet.id, 5), two_legs(wallet.id, bank.id, 99)],
                mode="atomic",
            )
    assert await _counts(db) == before


async def test_ledger_administration_is_audited_in_its_own_transaction(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    await service.account_set_limit(db=db, ctx=ctx, account_id=wallet.id, overdraft_limit=40)
    posted = await move(db, ctx, bank.id, wallet.id, 10)
    hold = await move(db, ctx, bank.id, wallet.id, 5, pending=True)
    reversal = await service.transfer_reverse(
        db=db, ctx=ctx, transfer_id=posted.transfer_id, request=TransferAction()
    )
    void = await service.transfer_void_pending(
        db=db, ctx=ctx, pending_id=hold.transfer_id, request=TransferAction()
    )
    await service.account_close(db=db, ctx=ctx, account_id=wallet.id)
    await service.account_close(db=db, ctx=ctx, account_id=wallet.id)  # already closed
    async with db.uow() as uow:
        rows = (
            await uow.session.execute(
                text("SELECT action, object_id, changes FROM audit_events ORDER BY occurred_at, id")
            )
        ).all()
    actions = [(action, object_id) for action, object_id, _ in rows]
    assert actions == [
        ("ledger_account.created", str(bank.id)),
        ("ledger_account.created", str(wallet.id)),
        ("ledger_account.limit_changed", str(wallet.id)),
        ("transfer.reversed", str(posted.transfer_id)),
        ("transfer.voided", str(hold.transfer_id)),
        ("ledger_account.closed", str(wallet.id)),
    ]
    changes = [row[2] for row in rows]
    assert changes[2]["fields"] == {"overdraft_limit": {"before": None, "after": 40}}
    assert changes[3]["details"] == {"reversal_id": str(reversal.transfer_id)}
    assert changes[4]["details"] == {"void_transfer_id": str(void.transfer_id)}
    # The account's name (it may name a person) stays out of the trail.
    assert "name" not in changes[1]["fields"]


async def test_a_refused_account_creation_leaves_no_audit_record(db: Database) -> None:
    ctx = ledger_context()
    await open_account(db, ctx, code="taken")
    with pytest.raises(Exception, match="taken"):
        await open_account(db, ctx, code="taken")
    counts = await _counts(db)
    assert (counts["ledger_accounts"], counts["audit_events"]) == (1, 1)
