"""Sixteen concurrent workers on ten accounts: nothing overdrawn, nothing lost or doubled."""

from __future__ import annotations

import asyncio
import random
import uuid

from sqlalchemy import text

from fiscus.core.db import Database
from fiscus.ledger import queries, service
from fiscus.ledger.errors import TransferRefused
from fiscus.ledger.schemas import PendingPost, TransferAction
from tests.ledger.factories import ledger_context, move, open_account

WORKERS = 16
OPERATIONS_PER_WORKER = 25
LIMITS = [None, 0, 0, 10, 25, 50, None, 5, 100]


async def test_sixteen_workers_never_overdraw_and_lose_nothing(db: Database) -> None:
    ctx = ledger_context()
    bank = await open_account(db, ctx, normal_side="debit")
    wallets = [
        await open_account(db, ctx, flags=["debits_must_not_exceed_credits"], overdraft_limit=limit)
        for limit in LIMITS
    ]
    accounts = [bank.id, *(w.id for w in wallets)]
    acknowledged: list[uuid.UUID] = []
    for wallet in wallets:
        acknowledged.append((await move(db, ctx, bank.id, wallet.id, 40)).transfer_id)

    async def worker(seed: int) -> None:
        rng = random.Random(seed)
        holds: list[uuid.UUID] = []
        for _ in range(OPERATIONS_PER_WORKER):
            debit, credit = rng.sample(accounts, 2)
            try:
                if holds and rng.random() < 0.3:
                    hold = holds.pop()
                    if rng.random() < 0.5:
                        done = await service.transfer_post_pending(
                            db=db, ctx=ctx, pending_id=hold, request=PendingPost()
                        )
                    else:
                        done = await service.transfer_void_pending(
                            db=db, ctx=ctx, pending_id=hold, request=TransferAction()
                        )
                    acknowledged.append(done.transfer_id)
                    continue
                pending = rng.random() < 0.25
                outcome = await move(db, ctx, debit, credit, rng.randint(1, 60), pending=pending)
                acknowledged.append(outcome.transfer_id)
                if pending:
                    holds.append(outcome.transfer_id)
            except TransferRefused:
                continue

    await asyncio.gather(*(worker(seed) for seed in range(WORKERS)))

    for wallet, limit in zip(wallets, LIMITS, strict=True):
        account = await queries.account_get(db=db, ctx=ctx, account_id=wallet.id)
        used = account.debits_pending + account.debits_posted
        assert used <= account.credits_posted + (limit or 0), account
    assert (await queries.trial_balance(db=db, ctx=ctx)).balanced
    _, differences, _ = await queries.ledger_verify_chunk(
        db=db, after=(uuid.UUID(int=0), uuid.UUID(int=0)), batch=100
    )
    assert differences == []
    async with db.uow() as uow:
        stored = [
            row[0] for row in await uow.session.execute(text("SELECT id FROM ledger_transfers"))
        ]
    assert len(acknowledged) == len(set(acknowledged))
    assert sorted(stored) == sorted(acknowledged)
    assert len(acknowledged) > len(wallets) + WORKERS  # the workers did get transfers through
