"""Every result code, and which one wins when a transfer breaks several rules."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.ledger import service
from fiscus.ledger.codes import CODE_TITLES, PRECEDENCE, ResultCode
from fiscus.ledger.errors import TransferRefused
from fiscus.ledger.schemas import PendingPost, TransferAction, TransferCreate
from tests.ledger.factories import ledger_context, move, open_account

C = ResultCode


@dataclass
class World:
    """Accounts every case can use: `bank` (unlimited), `wallet` holding 100 (no overdraft),
    `limited` (overdraft 10, empty), `capped` (credits <= debits, credit limit 5), `closed`,
    `usd`, plus a posted transfer `posted_id` (10, bank -> wallet) with known id."""

    bank: uuid.UUID
    wallet: uuid.UUID
    limited: uuid.UUID
    capped: uuid.UUID
    closed: uuid.UUID
    usd: uuid.UUID
    posted_id: uuid.UUID


async def _world(db: Database, ctx: Any) -> World:
    bank = (await open_account(db, ctx, normal_side="debit")).id
    wallet = (await open_account(db, ctx, flags=["debits_must_not_exceed_credits"])).id
    limited = (
        await open_account(db, ctx, flags=["debits_must_not_exceed_credits"], overdraft_limit=10)
    ).id
    capped = (
        await open_account(db, ctx, flags=["credits_must_not_exceed_debits"], overdraft_limit=5)
    ).id
    closed = (await open_account(db, ctx)).id
    usd = (await open_account(db, ctx, currency="USD")).id
    await move(db, ctx, bank, wallet, 90)
    posted_id = uuid.uuid4()
    await move(db, ctx, bank, wallet, 10, id=posted_id)
    await service.account_close(db=db, ctx=ctx, account_id=closed)
    return World(bank, wallet, limited, capped, closed, usd, posted_id)


def _legs(*legs: tuple[uuid.UUID, str, int]) -> list[dict[str, Any]]:
    return [{"account_id": a, "direction": d, "amount": n} for a, d, n in legs]


# (case, request fields built from the world, expected code). Multi-rule cases check the
# precedence: the expected code is the earliest in codes.PRECEDENCE among those broken.
CASES: list[tuple[str, Any, ResultCode]] = [
    (
        "same account twice",
        lambda w: {"legs": _legs((w.wallet, "debit", 5), (w.wallet, "credit", 5))},
        C.ACCOUNTS_MUST_BE_DIFFERENT,
    ),
    (
        "same account beats unbalanced",
        lambda w: {"legs": _legs((w.wallet, "debit", 5), (w.wallet, "credit", 6))},
        C.ACCOUNTS_MUST_BE_DIFFERENT,
    ),
    (
        "unbalanced",
        lambda w: {"legs": _legs((w.bank, "debit", 5), (w.wallet, "credit", 6))},
        C.TRANSFER_MUST_BALANCE,
    ),
    (
        "unbalanced beats missing account",
        lambda w: {"legs": _legs((uuid.uuid4(), "debit", 5), (w.wallet, "credit", 6))},
        C.TRANSFER_MUST_BALANCE,
    ),
    (
        "timeout without pending",
        lambda w: {"legs": _legs((w.bank, "debit", 5), (w.wallet, "credit", 5)), "timeout_s": 5},
        C.TIMEOUT_REQUIRES_PENDING,
    ),
    (
        "effective_at in the future",
        lambda w: {
            "legs": _legs((w.bank, "debit", 5), (w.wallet, "credit", 5)),
            "effective_at": clock.now() + timedelta(hours=1),
        },
        C.EFFECTIVE_AT_IN_FUTURE,
    ),
    (
        "effective_at too old",
        lambda w: {
            "legs": _legs((w.bank, "debit", 5), (w.wallet, "credit", 5)),
            "effective_at": clock.now() - timedelta(days=40),
        },
        C.EFFECTIVE_AT_TOO_OLD,
    ),
    (
        "reused id, other accounts",
        lambda w: {
            "id": w.posted_id,
            "legs": _legs((w.bank, "debit", 10), (w.limited, "credit", 10)),
        },
        C.EXISTS_WITH_DIFFERENT_LEGS,
    ),
    (
        "reused id, other amount",
        lambda w: {
            "id": w.posted_id,
            "legs": _legs((w.bank, "debit", 11), (w.wallet, "credit", 11)),
        },
        C.EXISTS_WITH_DIFFERENT_AMOUNT,
    ),
    (
        "reused id, other currency",
        lambda w: {
            "id": w.posted_id,
            "currency": "USD",
            "legs": _legs((w.bank, "debit", 10), (w.wallet, "credit", 10)),
        },
        C.EXISTS_WITH_DIFFERENT_CURRENCY,
    ),
    (
        "reused id, now pending",
        lambda w: {
            "id": w.posted_id,
            "pending": True,
            "legs": _legs((w.bank, "debit", 10), (w.wallet, "credit", 10)),
        },
        C.EXISTS_WITH_DIFFERENT_PENDING,
    ),
    (
        "reused id, other description",
        lambda w: {
            "id": w.posted_id,
            "description": "x",
            "legs": _legs((w.bank, "debit", 10), (w.wallet, "credit", 10)),
        },
        C.EXISTS_WITH_DIFFERENT_DESCRIPTION,
    ),
    (
        "reused id, other metadata",
        lambda w: {
            "id": w.posted_id,
            "metadata": {"a": 1},
            "legs": _legs((w.bank, "debit", 10), (w.wallet, "credit", 10)),
        },
        C.EXISTS_WITH_DIFFERENT_METADATA,
    ),
    (
        "reused id beats closed account",
        lambda w: {
            "id": w.posted_id,
            "legs": _legs((w.bank, "debit", 10), (w.closed, "credit", 10)),
        },
        C.EXISTS_WITH_DIFFERENT_LEGS,
    ),
    (
        "missing account",
        lambda w: {"legs": _legs((uuid.uuid4(), "debit", 5), (w.wallet, "credit", 5))},
        C.ACCOUNT_NOT_FOUND,
    ),
    (
        "missing beats currency",
        lambda w: {"legs": _legs((uuid.uuid4(), "debit", 5), (w.usd, "credit", 5))},
        C.ACCOUNT_NOT_FOUND,
    ),
    (
        "currency mismatch",
        lambda w: {"legs": _legs((w.bank, "debit", 5), (w.usd, "credit", 5))},
        C.CURRENCY_MISMATCH,
    ),
    (
        "currency beats closed",
        lambda w: {"legs": _legs((w.closed, "debit", 5), (w.usd, "credit", 5))},
        C.CURRENCY_MISMATCH,
    ),
    (
        "closed account",
        lambda w: {"legs": _legs((w.bank, "debit", 5), (w.closed, "credit", 5))},
        C.ACCOUNT_CLOSED,
    ),
    (
        "closed beats exceeds",
        lambda w: {"legs": _legs((w.wallet, "debit", 500), (w.closed, "credit", 500))},
        C.ACCOUNT_CLOSED,
    ),
    (
        "overdraft limit",
        lambda w: {"legs": _legs((w.limited, "debit", 11), (w.bank, "credit", 11))},
        C.EXCEEDS_OVERDRAFT_LIMIT,
    ),
    (
        "within overdraft",
        lambda w: {"legs": _legs((w.limited, "debit", 10), (w.bank, "credit", 10))},
        None,
    ),
    (
        "exceeds credits",
        lambda w: {"legs": _legs((w.wallet, "debit", 101), (w.bank, "credit", 101))},
        C.EXCEEDS_CREDITS,
    ),
    (
        "overdraft beats credits",
        lambda w: {
            "legs": _legs(
                (w.wallet, "debit", 101), (w.limited, "debit", 11), (w.bank, "credit", 112)
            )
        },
        C.EXCEEDS_OVERDRAFT_LIMIT,
    ),
    (
        "credit limit",
        lambda w: {"legs": _legs((w.bank, "debit", 6), (w.capped, "credit", 6))},
        C.EXCEEDS_CREDIT_LIMIT,
    ),
    (
        "credits beat debits",
        lambda w: {"legs": _legs((w.wallet, "debit", 101), (w.capped, "credit", 101))},
        C.EXCEEDS_CREDITS,
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"), [(f, e) for _, f, e in CASES], ids=[c[0] for c in CASES]
)
async def test_result_code(db: Database, fields: Any, expected: ResultCode | None) -> None:
    ctx = ledger_context()
    world = await _world(db, ctx)
    request = TransferCreate.model_validate({"currency": "EUR", **fields(world)})
    if expected is None:
        outcome = await service.transfer_create(db=db, ctx=ctx, request=request)
        assert outcome.status == "posted"
        return
    with pytest.raises(TransferRefused) as refused:
        await service.transfer_create(db=db, ctx=ctx, request=request)
    assert refused.value.code is expected
    assert refused.value.problem()["code"] == expected.value


async def test_identical_retry_is_exists_not_a_refusal(db: Database) -> None:
    ctx = ledger_context()
    world = await _world(db, ctx)
    outcome = await move(db, ctx, world.bank, world.wallet, 10, id=world.posted_id)
    assert outcome.replayed and outcome.transfer_id == world.posted_id


async def test_pending_and_reversal_codes(db: Database) -> None:
    ctx = ledger_context()
    world = await _world(db, ctx)
    three_legs = TransferCreate.model_validate(
        {
            "currency": "EUR",
            "pending": True,
            "legs": _legs(
                (world.bank, "debit", 4),
                (world.limited, "credit", 2),
                (world.capped, "debit", 0 + 1),
                (world.wallet, "credit", 3),
            ),
        }
    )
    hold3 = await service.transfer_create(db=db, ctx=ctx, request=three_legs)

    async def post(pending_id: uuid.UUID, amount: int | None = None) -> ResultCode:
        with pytest.raises(TransferRefused) as refused:
            await service.transfer_post_pending(
                db=db, ctx=ctx, pending_id=pending_id, request=PendingPost(amount=amount)
            )
        return refused.value.code

    assert await post(uuid.uuid4()) is C.PENDING_TRANSFER_NOT_FOUND
    assert await post(world.posted_id) is C.PENDING_TRANSFER_NOT_PENDING
    assert await post(hold3.transfer_id, 1) is C.PARTIAL_POST_REQUIRES_TWO_LEGS
    hold = await move(db, ctx, world.bank, world.wallet, 5, pending=True)
    assert await post(hold.transfer_id, 6) is C.EXCEEDS_PENDING_TRANSFER_AMOUNT
    await service.transfer_void_pending(
        db=db, ctx=ctx, pending_id=hold.transfer_id, request=TransferAction()
    )
    assert await post(hold.transfer_id) is C.PENDING_TRANSFER_ALREADY_VOIDED

    async def reverse(transfer_id: uuid.UUID) -> ResultCode:
        with pytest.raises(TransferRefused) as refused:
            await service.transfer_reverse(
                db=db, ctx=ctx, transfer_id=transfer_id, request=TransferAction()
            )
        return refused.value.code

    assert await reverse(uuid.uuid4()) is C.TRANSFER_NOT_FOUND
    assert await reverse(hold3.transfer_id) is C.TRANSFER_NOT_POSTED
    assert await reverse(hold.transfer_id) is C.TRANSFER_NOT_POSTED


def test_every_code_has_a_title_and_a_place_in_the_precedence() -> None:
    assert set(CODE_TITLES) == set(ResultCode) == set(PRECEDENCE)
    assert PRECEDENCE.index(C.ACCOUNT_NOT_FOUND) < PRECEDENCE.index(C.CURRENCY_MISMATCH)
    assert PRECEDENCE.index(C.CURRENCY_MISMATCH) < PRECEDENCE.index(C.ACCOUNT_CLOSED)
    assert PRECEDENCE.index(C.ACCOUNT_CLOSED) < PRECEDENCE.index(C.EXCEEDS_OVERDRAFT_LIMIT)
    assert PRECEDENCE.index(C.EXCEEDS_OVERDRAFT_LIMIT) < PRECEDENCE.index(C.EXCEEDS_CREDITS)
