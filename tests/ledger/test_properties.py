"""Property-based: random sequences of postings keep every ledger invariant.

Invariants checked after every step: each currency sums to zero over all accounts, no
limited account is past its limit, every stored balance equals the sum of its entries,
and a pending transfer is resolved (posted or voided) at most once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import text

from fiscus.core.db import Database
from fiscus.ledger import queries, service
from fiscus.ledger.errors import BatchRefused, TransferRefused
from fiscus.ledger.schemas import PendingPost, TransferAction
from tests.ledger.factories import ledger_context, move, open_account, two_legs

T = TypeVar("T")
LIMITS = [None, 0, 15, None]  # bank (unlimited) first, then wallets
DATABASE_URL: list[str] = []


class LedgerMachine(RuleBasedStateMachine):
    """A bank and three wallets in a fresh tenant; each rule is one ledger operation."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db = Database(DATABASE_URL[0], pool_size=2, max_overflow=2)
        self.ctx = ledger_context()
        self.accounts: list[uuid.UUID] = []
        for index, limit in enumerate(LIMITS):
            flags = [] if index == 0 else ["debits_must_not_exceed_credits"]
            side = "debit" if index == 0 else "credit"
            account = self.run(
                open_account(
                    self.db, self.ctx, normal_side=side, flags=flags, overdraft_limit=limit
                )
            )
            self.accounts.append(account.id)
        self.pending: list[uuid.UUID] = []
        self.posted: list[uuid.UUID] = []
        self.accepted: list[uuid.UUID] = []

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        self.run(self.db.dispose())
        self.loop.close()

    @rule(
        debit=st.integers(0, 3),
        credit=st.integers(0, 3),
        amount=st.integers(1, 60),
        pending=st.booleans(),
    )
    def transfer(self, debit: int, credit: int, amount: int, pending: bool) -> None:
        try:
            outcome = self.run(
                move(
                    self.db,
                    self.ctx,
                    self.accounts[debit],
                    self.accounts[credit],
                    amount,
                    pending=pending,
                )
            )
        except TransferRefused:
            return
        assert debit != credit
        self.accepted.append(outcome.transfer_id)
        (self.pending if pending else self.posted).append(outcome.transfer_id)

    @rule(data=st.data(), void=st.booleans(), part=st.integers(1, 60) | st.none())
    def resolve(self, data: st.DataObject, void: bool, part: int | None) -> None:
        if not self.pending:
            return
        hold = data.draw(st.sampled_from(self.pending))
        self.pending.remove(hold)
        try:
            if void:
                self.run(
                    service.transfer_void_pending(
                        db=self.db, ctx=self.ctx, pending_id=hold, request=TransferAction()
                    )
                )
            else:
                done = self.run(
                    service.transfer_post_pending(
                        db=self.db, ctx=self.ctx, pending_id=hold, request=PendingPost(amount=part)
                    )
                )
                self.posted.append(done.transfer_id)
        except TransferRefused as refused:
            code = refused.code.value
            # Partial amounts are drawn blindly; everything else must have succeeded.
            assert code == "exceeds_pending_transfer_amount", code
            return
        # A second resolution of the same hold is always refused.
        try:
            self.run(
                service.transfer_void_pending(
                    db=self.db, ctx=self.ctx, pending_id=hold, request=TransferAction()
                )
            )
            raise AssertionError("a pending transfer was resolved twice")
        except TransferRefused:
            pass

    @rule(data=st.data())
    def reverse(self, data: st.DataObject) -> None:
        if not self.posted:
            return
        original = data.draw(st.sampled_from(self.posted))
        try:
            self.run(
                service.transfer_reverse(
                    db=self.db, ctx=self.ctx, transfer_id=original, request=TransferAction()
                )
            )
        except TransferRefused as refused:
            # The money may have moved on since: a reversal obeys the limits like any posting.
            expected = {
                "transfer_already_reversed",
                "transfer_not_reversible",
                "exceeds_credits",
                "exceeds_overdraft_limit",
            }
            assert refused.code.value in expected  # noqa: PT017

    @rule(
        items=st.lists(
            st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 40), st.booleans()),
            min_size=1,
            max_size=6,
        ),
        atomic=st.booleans(),
    )
    def batch(self, items: list[tuple[int, int, int, bool]], atomic: bool) -> None:
        transfers = [
            two_legs(self.accounts[d], self.accounts[c], n, linked=linked and i < len(items) - 1)
            for i, (d, c, n, linked) in enumerate(items)
        ]
        try:
            results = self.run(
                service.transfer_batch(
                    db=self.db,
                    ctx=self.ctx,
                    transfers=transfers,
                    mode="atomic" if atomic else "independent",
                )
            )
        except BatchRefused:
            return
        self.posted.extend(r.transfer_id for r in results if r.transfer_id is not None)

    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        if not self.accepted:
            return
        transfer_id = data.draw(st.sampled_from(self.accepted))
        stored = self.run(queries.transfer_get(db=self.db, ctx=self.ctx, transfer_id=transfer_id))
        legs = {leg.direction: leg.account_id for leg in stored.legs}
        before = self.run(queries.trial_balance(db=self.db, ctx=self.ctx))
        again = self.run(
            move(
                self.db,
                self.ctx,
                legs["debit"],
                legs["credit"],
                stored.legs[0].amount,
                id=transfer_id,
                pending=stored.pending,
            )
        )
        assert again.replayed and again.transfer_id == transfer_id
        assert self.run(queries.trial_balance(db=self.db, ctx=self.ctx)) == before

    @invariant()
    def money_is_conserved_and_limits_hold(self) -> None:
        tb = self.run(queries.trial_balance(db=self.db, ctx=self.ctx))
        assert tb.balanced, tb
        for account_id, limit in zip(self.accounts[1:], LIMITS[1:], strict=True):
            a = self.run(queries.account_get(db=self.db, ctx=self.ctx, account_id=account_id))
            assert a.debits_pending + a.debits_posted <= a.credits_posted + (limit or 0), a

    @invariant()
    def balances_equal_their_entries_and_holds_resolve_once(self) -> None:
        _, differences, _ = self.run(
            queries.ledger_verify_chunk(
                db=self.db, after=(self.ctx.tenant_id, uuid.UUID(int=0)), batch=10
            )
        )
        assert [d for d in differences if d.tenant_id == self.ctx.tenant_id] == []

        async def most_resolutions() -> int:
            async with self.db.uow(tenant_id=self.ctx.tenant_id) as uow:
                result = await uow.session.execute(
                    text(
                        "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n"
                        " FROM ledger_transfers WHERE kind IN ('post_pending', 'void_pending')"
                        " GROUP BY parent_id) x"
                    )
                )
                return int(result.scalar_one())

        assert self.run(most_resolutions()) <= 1


def test_random_operation_sequences_keep_the_invariants(clean_database: str) -> None:
    DATABASE_URL[:] = [clean_database]
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
