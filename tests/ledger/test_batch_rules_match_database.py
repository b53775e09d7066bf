"""The batch's Python copy of the posting rules decides exactly as the database does.

The fast batch path (`_batch_rules_part.decide` + `event_payload`) keeps a Python copy of
`ledger_check_legs`, `ledger_post_new` and `ledger_emit` for speed (issue 11: one source of
truth, or a differential test). Hypothesis draws account states (flags, limits, balances,
closed, currency) and a batch (amounts, directions, pending, linked chains, unknown
accounts); the batch then runs twice on the same state, each time in a transaction that is
rolled back: once through the Python path, once through the database's `ledger_post_batch`.
Both must give the same result code for every item and write the same entries (running
balances and versions), the same events (type and payload) and the same account rows.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from fiscus.access.context import Context
from fiscus.core.db import Database, UnitOfWork
from fiscus.ledger.schemas import TransferCreate
from fiscus.ledger.service import transfer_batch_in
from fiscus.ledger.service._batch_part import _batch_params
from fiscus.ledger.service._sql_part import BATCH_SQL, Row
from tests.ledger.factories import ledger_context

DATABASE_URL: list[str] = []
MISSING = uuid.UUID("01900000-0000-7000-8000-0000000000ff")


@dataclass(frozen=True)
class AccountState:
    """One account row as the test inserts it."""

    id: uuid.UUID
    currency: str
    limit_side: str | None  # "debit", "credit" or None
    overdraft_limit: int | None
    closed: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    holder: str | None


@st.composite
def account_states(draw: st.DrawFn, index: int) -> AccountState:
    limit_side = draw(st.sampled_from([None, "debit", "credit"]))
    limit = draw(st.one_of(st.none(), st.integers(0, 8)))
    room = limit or 0
    # Balances that the table's CHECK constraints accept.
    own_posted = draw(st.integers(0, 15))
    balances: tuple[int, ...]
    if limit_side == "debit":
        used = draw(st.integers(0, own_posted + room))
        debits_pending = draw(st.integers(0, used))
        balances = (debits_pending, used - debits_pending, draw(st.integers(0, 10)), own_posted)
    elif limit_side == "credit":
        used = draw(st.integers(0, own_posted + room))
        credits_pending = draw(st.integers(0, used))
        balances = (draw(st.integers(0, 10)), own_posted, credits_pending, used - credits_pending)
    else:
        balances = tuple(draw(st.integers(0, 15)) for _ in range(4))
    return AccountState(
        id=uuid.UUID(int=index + 1),
        currency=draw(st.sampled_from(["EUR", "EUR", "EUR", "USD"])),
        limit_side=limit_side,
        overdraft_limit=limit,
        closed=draw(st.integers(0, 5)) == 0,
        debits_pending=balances[0],
        debits_posted=balances[1],
        credits_pending=balances[2],
        credits_posted=balances[3],
        holder=draw(st.sampled_from([None, "holder-1"])),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[AccountState], list[TransferCreate]]:
    accounts = [draw(account_states(i)) for i in range(draw(st.integers(2, 4)))]
    choices = [a.id for a in accounts] + [MISSING]
    transfers = []
    for _ in range(draw(st.integers(1, 7))):
        debit, credit = draw(
            st.lists(st.sampled_from(choices), min_size=2, max_size=2, unique=True)
        )
        transfers.append(
            TransferCreate.model_validate(
                {
                    "id": uuid.uuid4(),
                    "debit_account_id": debit,
                    "credit_account_id": credit,
                    "amount": draw(st.integers(1, 12)),
                    "currency": "EUR",
                    "pending": draw(st.booleans()),
                    "linked": draw(st.integers(0, 3)) == 0,
                    "metadata": draw(st.sampled_from([{}, {"n": 1}])),
                }
            )
        )
    return accounts, transfers


INSERT_ACCOUNT = text(
    "INSERT INTO ledger_accounts (tenant_id, id, code, name, currency, type, normal_side,"
    " debits_must_not_exceed_credits, credits_must_not_exceed_debits, overdraft_limit,"
    " closed_at, metadata, debits_pending, debits_posted, credits_pending, credits_posted,"
    " version, created_at) VALUES (:tenant, :id, :code, 'A', :currency, 'asset', 'debit',"
    " :dl, :cl, :limit, :closed, CAST(:metadata AS jsonb), :dq, :dp, :cq, :cp, 3, now())"
)


async def _seed(uow: UnitOfWork, ctx: Context, accounts: list[AccountState]) -> None:
    for a in accounts:
        await uow.session.execute(
            INSERT_ACCOUNT,
            {
                "tenant": ctx.tenant_id,
                "id": a.id,
                "code": str(a.id),
                "currency": a.currency,
                "dl": a.limit_side == "debit",
                "cl": a.limit_side == "credit",
                "limit": a.overdraft_limit,
                "closed": datetime(2026, 1, 1, tzinfo=UTC) if a.closed else None,
                "metadata": json.dumps({"holder_user_id": a.holder} if a.holder else {}),
                "dq": a.debits_pending,
                "dp": a.debits_posted,
                "cq": a.credits_pending,
                "cp": a.credits_posted,
            },
        )


async def _written(uow: UnitOfWork) -> dict[str, Any]:
    async def rows(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in await uow.session.execute(text(sql))]

    return {
        "entries": await rows(
            "SELECT transfer_id, leg, account_id, currency, direction, posted_amount,"
            " pending_amount, account_version, debits_pending, debits_posted, credits_pending,"
            " credits_posted FROM ledger_entries ORDER BY transfer_id, leg"
        ),
        "transfers": await rows(
            "SELECT id, kind, status, pending, currency, amount, description, metadata, fx"
            " FROM ledger_transfers ORDER BY id"
        ),
        "events": await rows("SELECT type, subject, payload FROM events ORDER BY subject"),
        "accounts": await rows(
            "SELECT id, debits_pending, debits_posted, credits_pending, credits_posted, version"
            " FROM ledger_accounts ORDER BY id"
        ),
    }


class RolledBack(Exception):
    """Carries what a run wrote out of its transaction, which then rolls back."""

    def __init__(self, codes: list[str], written: dict[str, Any]) -> None:
        super().__init__("rolled back")
        self.codes, self.written = codes, written


async def _python_path(
    db: Database, ctx: Context, accounts: list[AccountState], transfers: list[TransferCreate]
) -> RolledBack:
    try:
        async with db.uow(tenant_id=ctx.tenant_id) as uow:
            await _seed(uow, ctx, accounts)
            items = await transfer_batch_in(uow, ctx=ctx, transfers=transfers, mode="independent")
            raise RolledBack([item.code for item in items], await _written(uow))
    except RolledBack as done:
        return done


async def _database_path(
    db: Database, ctx: Context, accounts: list[AccountState], transfers: list[TransferCreate]
) -> RolledBack:
    try:
        async with db.uow(tenant_id=ctx.tenant_id) as uow:
            await _seed(uow, ctx, accounts)
            params = _batch_params(
                ctx, transfers, [t.id for t in transfers if t.id], False, datetime.now(UTC)
            )
            cursor = await (await uow.driver()).execute(BATCH_SQL, params)
            codes = [Row(*found).code for found in await cursor.fetchall()]
            raise RolledBack(codes, await _written(uow))
    except RolledBack as done:
        return done


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def _check(scenario: tuple[list[AccountState], list[TransferCreate]]) -> None:
    accounts, transfers = scenario
    ctx = ledger_context()
    loop = asyncio.new_event_loop()
    db = Database(DATABASE_URL[0], pool_size=1, max_overflow=1)
    try:
        python = loop.run_until_complete(_python_path(db, ctx, accounts, transfers))
        database = loop.run_until_complete(_database_path(db, ctx, accounts, transfers))
    finally:
        loop.run_until_complete(db.dispose())
        loop.close()
    assert python.codes == database.codes
    for part in ("accounts", "transfers", "entries", "events"):
        assert python.written[part] == database.written[part], part


def test_the_batch_rules_in_python_decide_as_the_database_does(clean_database: str) -> None:
    DATABASE_URL[:] = [clean_database]
    _check()
