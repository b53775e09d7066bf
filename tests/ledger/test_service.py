"""Service-level behaviour of the ledger against the real database."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.ledger import queries, service
from fiscus.ledger.codes import ResultCode
from fiscus.ledger.errors import LedgerAccountLimitInvalid, TransferRefused
from fiscus.ledger.schemas import PendingPost, TransferAction, TransferCreate
from tests.ledger.factories import ledger_context, move, open_account, two_legs

WALLET = ["debits_must_not_exceed_credits"]


async def _events(db: Database) -> list[tuple[str, dict[str, object]]]:
    async with db.uow() as uow:
        rows = await uow.session.execute(text("SELECT type, payload FROM events ORDER BY id"))
        return [(row[0], row[1]) for row in rows]


async def test_posted_transfer_moves_balances_and_emits_an_event_with_the_holder(
    db: Database,
) -> None:
    ctx = ledger_context()
    holder = str(uuid.uuid4())
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET, metadata={"holder_user_id": holder})
    outcome = await move(db, ctx, bank.id, wallet.id, 1250)
    assert outcome.status == "posted" and not outcome.replayed
    balance = await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)
    assert (balance.credits_posted, balance.balance, balance.available) == (1250, 1250, 1250)
    bank_balance = await queries.balance_get(db=db, ctx=ctx, account_id=bank.id)
    assert bank_balance.balance == 1250 and bank_balance.debits_posted == 1250
    [(kind, payload)] = await _events(db)
    assert kind == "transfer.posted"
    assert payload["transfer_id"] == str(outcome.transfer_id)
    legs = payload["legs"]
    assert isinstance(legs, list)
    assert {leg["account_id"]: leg.get("holder_user_id") for leg in legs} == {
        str(bank.id): None,
        str(wallet.id): holder,
    }


async def test_transfer_exceeding_credits_is_refused_and_writes_nothing(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    await move(db, ctx, bank.id, wallet.id, 100)
    with pytest.raises(TransferRefused) as refused:
        await move(db, ctx, wallet.id, bank.id, 101)
    assert refused.value.code is ResultCode.EXCEEDS_CREDITS
    assert refused.value.problem()["type"].endswith("/exceeds_credits")
    assert (await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)).balance == 100
    assert len(await _events(db)) == 1


async def test_overdraft_limit_can_be_raised_at_runtime_but_not_below_use(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET, overdraft_limit=50)
    await move(db, ctx, wallet.id, bank.id, 50)
    with pytest.raises(TransferRefused) as refused:
        await move(db, ctx, wallet.id, bank.id, 1)
    assert refused.value.code is ResultCode.EXCEEDS_OVERDRAFT_LIMIT
    await service.account_set_limit(db=db, ctx=ctx, account_id=wallet.id, overdraft_limit=80)
    await move(db, ctx, wallet.id, bank.id, 30)
    with pytest.raises(LedgerAccountLimitInvalid):
        await service.account_set_limit(db=db, ctx=ctx, account_id=wallet.id, overdraft_limit=10)


async def test_retry_with_same_id_returns_the_original_and_posts_once(db: Database) -> None:
    ctx = ledger_context()
    a = await open_account(db, ctx, normal_side="debit")
    b = await open_account(db, ctx)
    transfer_id = uuid.uuid4()
    first = await move(db, ctx, a.id, b.id, 10, id=transfer_id)
    again = await move(db, ctx, a.id, b.id, 10, id=transfer_id)
    assert again.replayed and again.transfer_id == first.transfer_id == transfer_id
    assert (await queries.balance_get(db=db, ctx=ctx, account_id=b.id)).balance == 10
    with pytest.raises(TransferRefused) as refused:
        await move(db, ctx, a.id, b.id, 11, id=transfer_id)
    assert refused.value.code is ResultCode.EXISTS_WITH_DIFFERENT_AMOUNT
    assert refused.value.status == 409


async def test_idempotency_key_maps_to_one_transfer(db: Database) -> None:
    ctx = ledger_context()
    a = await open_account(db, ctx, normal_side="debit")
    b = await open_account(db, ctx)
    request = two_legs(a.id, b.id, 7)
    first = await service.transfer_create(db=db, ctx=ctx, request=request, idempotency_key="k1")
    again = await service.transfer_create(db=db, ctx=ctx, request=request, idempotency_key="k1")
    assert again.replayed and again.transfer_id == first.transfer_id
    with pytest.raises(TransferRefused) as refused:
        await service.transfer_create(
            db=db, ctx=ctx, request=two_legs(b.id, a.id, 7), idempotency_key="k1"
        )
    assert refused.value.code is ResultCode.EXISTS_WITH_DIFFERENT_LEGS


async def test_pending_transfer_holds_then_posts_in_part_exactly_once(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    await move(db, ctx, bank.id, wallet.id, 100)
    hold = await move(db, ctx, wallet.id, bank.id, 80, pending=True, timeout_s=60)
    assert hold.status == "pending"
    balance = await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)
    assert (balance.debits_pending, balance.available) == (80, 20)
    with pytest.raises(TransferRefused) as refused:
        await move(db, ctx, wallet.id, bank.id, 21)
    assert refused.value.code is ResultCode.EXCEEDS_CREDITS
    posted = await service.transfer_post_pending(
        db=db, ctx=ctx, pending_id=hold.transfer_id, request=PendingPost(amount=60)
    )
    assert posted.status == "posted"
    balance = await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)
    assert (balance.debits_pending, balance.debits_posted, balance.balance) == (0, 60, 40)
    for again in (PendingPost(), PendingPost(amount=10)):
        with pytest.raises(TransferRefused) as refused:
            await service.transfer_post_pending(
                db=db, ctx=ctx, pending_id=hold.transfer_id, request=again
            )
        assert refused.value.code is ResultCode.PENDING_TRANSFER_ALREADY_POSTED
    with pytest.raises(TransferRefused) as refused:
        await service.transfer_void_pending(
            db=db, ctx=ctx, pending_id=hold.transfer_id, request=TransferAction()
        )
    assert refused.value.code is ResultCode.PENDING_TRANSFER_ALREADY_POSTED
    kinds = [kind for kind, _ in await _events(db)]
    assert kinds == ["transfer.posted", "transfer.pending", "transfer.posted"]


async def test_void_releases_the_hold_and_emits_voided(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    await move(db, ctx, bank.id, wallet.id, 100)
    hold = await move(db, ctx, wallet.id, bank.id, 100, pending=True)
    voided = await service.transfer_void_pending(
        db=db, ctx=ctx, pending_id=hold.transfer_id, request=TransferAction()
    )
    assert voided.status == "voided"
    balance = await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)
    assert (balance.debits_pending, balance.available) == (0, 100)
    assert (await _events(db))[-1][0] == "transfer.voided"


async def test_expired_pending_cannot_be_posted_and_the_job_voids_it(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=WALLET)
    await move(db, ctx, bank.id, wallet.id, 100)
    with clock.frozen_clock() as frozen:
        hold = await move(db, ctx, wallet.id, bank.id, 30, pending=True, timeout_s=5)
        assert await service.pending_expire(db=db) == 0
        frozen.advance(timedelta(seconds=6))
        with pytest.raises(TransferRefused) as refused:
            await service.transfer_post_pending(
                db=db, ctx=ctx, pending_id=hold.transfer_id, request=PendingPost()
            )
        assert refused.value.code is ResultCode.PENDING_TRANSFER_EXPIRED
        assert await service.pending_expire(db=db) == 1
        assert await service.pending_expire(db=db) == 0
    transfer = await queries.transfer_get(db=db, ctx=ctx, transfer_id=hold.transfer_id)
    assert transfer.status == "voided"
    assert (await queries.balance_get(db=db, ctx=ctx, account_id=wallet.id)).available == 100


async def test_reverse_restores_balances_once(db: Database) -> None:
    ctx = ledger_context()
    a = await open_account(db, ctx, normal_side="debit")
    b = await open_account(db, ctx)
    original = await move(db, ctx, a.id, b.id, 40)
    reversal = await service.transfer_reverse(
        db=db, ctx=ctx, transfer_id=original.transfer_id, request=TransferAction()
    )
    stored = await queries.transfer_get(db=db, ctx=ctx, transfer_id=reversal.transfer_id)
    assert stored.kind == "reversal" and stored.parent_id == original.transfer_id
    assert (await queries.balance_get(db=db, ctx=ctx, account_id=b.id)).balance == 0
    with pytest.raises(TransferRefused) as refused:
        await service.transfer_reverse(
            db=db, ctx=ctx, transfer_id=original.transfer_id, request=TransferAction()
        )
    assert refused.value.code is ResultCode.TRANSFER_ALREADY_REVERSED
    with pytest.raises(TransferRefused) as refused:
        await service.transfer_reverse(
            db=db, ctx=ctx, transfer_id=reversal.transfer_id, request=TransferAction()
        )
    assert refused.value.code is ResultCode.TRANSFER_NOT_REVERSIBLE
    assert (await _events(db))[-1][0] == "transfer.reversed"


async def test_reversal_is_refused_when_the_money_has_moved_on(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallet = await open_account(db, ctx, flags=["credits_must_not_exceed_debits"])
    other = await open_account(db, ctx)
    funding = await move(db, ctx, wallet.id, other.id, 50)
    await move(db, ctx, other.id, wallet.id, 50)
    await move(db, ctx, bank.id, other.id, 1)
    with pytest.raises(TransferRefused) as refused:
        await service.transfer_reverse(
            db=db, ctx=ctx, transfer_id=funding.transfer_id, request=TransferAction()
        )
    assert refused.value.code is ResultCode.EXCEEDS_DEBITS


async def test_balance_as_of_and_history_with_running_balances(db: Database) -> None:
    ctx = ledger_context()
    a = await open_account(db, ctx, normal_side="debit")
    b = await open_account(db, ctx)
    outcomes = [await move(db, ctx, a.id, b.id, amount) for amount in (5, 7, 11)]
    middle = outcomes[1].recorded_at
    at_middle = await queries.balance_get(db=db, ctx=ctx, account_id=b.id, as_of=middle)
    assert at_middle.balance == 12
    before = await queries.balance_get(
        db=db, ctx=ctx, account_id=b.id, as_of=outcomes[0].recorded_at - timedelta(seconds=1)
    )
    assert before.balance == 0
    page, cursor = await queries.entries_page(db=db, ctx=ctx, account_id=b.id, limit=2, cursor=None)
    assert [entry.balance for entry in page] == [23, 12] and cursor is not None
    rest, end = await queries.entries_page(db=db, ctx=ctx, account_id=b.id, limit=2, cursor=cursor)
    assert [entry.balance for entry in rest] == [5] and end is None


async def test_closed_account_refuses_transfers_but_its_holds_can_be_voided(db: Database) -> None:
    ctx = ledger_context()
    a = await open_account(db, ctx, normal_side="debit")
    b = await open_account(db, ctx)
    hold = await move(db, ctx, a.id, b.id, 5, pending=True)
    await service.account_close(db=db, ctx=ctx, account_id=b.id)
    with pytest.raises(TransferRefused) as refused:
        await move(db, ctx, a.id, b.id, 1)
    assert refused.value.code is ResultCode.ACCOUNT_CLOSED
    await service.transfer_void_pending(
        db=db, ctx=ctx, pending_id=hold.transfer_id, request=TransferAction()
    )
    assert (await queries.account_get(db=db, ctx=ctx, account_id=b.id)).flags == ["closed"]


async def test_fx_transfer_balances_per_currency_and_keeps_the_residue(db: Database) -> None:
    ctx = ledger_context()
    customer_eur = await open_account(db, ctx, normal_side="credit")
    desk_eur = await open_account(db, ctx, normal_side="debit")
    desk_usd = await open_account(db, ctx, currency="USD", normal_side="debit")
    customer_usd = await open_account(db, ctx, currency="USD")
    rounding = await open_account(db, ctx, currency="USD")
    legs, fx = service.fx_legs(
        amount=1001,
        rate=Decimal("1.0842"),
        from_currency="EUR",
        to_currency="USD",
        source_account_id=customer_eur.id,
        source_liquidity_id=desk_eur.id,
        target_liquidity_id=desk_usd.id,
        target_account_id=customer_usd.id,
        rounding_account_id=rounding.id,
    )
    request = TransferCreate(legs=legs, currency="EUR", fx=fx)
    outcome = await service.transfer_create(db=db, ctx=ctx, request=request)
    stored = await queries.transfer_get(db=db, ctx=ctx, transfer_id=outcome.transfer_id)
    assert stored.fx == {"rate": "1.0842", "from_currency": "EUR", "to_currency": "USD"}
    # 1001 x 1.0842 = 1085.2842: the customer gets 1085, the desk books 1086, 1 is residue.
    usd = {
        account.id: (await queries.balance_get(db=db, ctx=ctx, account_id=account.id)).balance
        for account in (desk_usd, customer_usd, rounding)
    }
    assert usd == {desk_usd.id: 1086, customer_usd.id: 1085, rounding.id: 1}
    tb = await queries.trial_balance(db=db, ctx=ctx)
    assert tb.balanced and [line.currency for line in tb.currencies] == ["EUR", "USD"]


async def test_other_tenants_accounts_are_invisible(db: Database) -> None:
    mine, theirs = ledger_context(), ledger_context()
    a = await open_account(db, mine, normal_side="debit")
    b = await open_account(db, theirs)
    with pytest.raises(TransferRefused) as refused:
        await move(db, mine, a.id, b.id, 1)
    assert refused.value.code is ResultCode.ACCOUNT_NOT_FOUND
    listed, _ = await queries.account_list(db=db, ctx=mine, limit=50, cursor=None)
    assert [account.id for account in listed] == [a.id]
