"""Race: each of 20 pending transfers is posted and voided at the same moment.

Posting and voiding are one database function that locks the pending transfer's row and
resolves it once; the loser, once it gets the lock, sees the winner's outcome. Proven over
HTTP: per pending transfer exactly one of the two requests gets a 201 and the other a
definite 422 problem naming what the winner did (`pending_transfer_already_posted` or
`_voided`), every hold is released exactly once, and the posted amounts are exactly those
of the winning posts. Both outcomes (post wins, void wins) must occur across the holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import Principal
from tests.races.helpers import BASE, at_once, ledger_of, no_server_errors, problem_type

# Bursts of concurrent requests (or two workers): one at a time, on one xdist worker.
pytestmark = pytest.mark.xdist_group("races")

HOLDS = 20
AMOUNT = 30
FUNDS = 1_000


async def test_concurrent_post_and_void_resolve_each_hold_once(
    app: FastAPI, client: httpx.AsyncClient, make_principal: Callable[..., Awaitable[Principal]]
) -> None:
    ledger = ledger_of(app, client, await make_principal(role="operator"))
    bank = await ledger.account(normal_side="debit")
    wallet = await ledger.wallet(funded_by=bank, amount=FUNDS)
    merchant = await ledger.account()
    hold_ids: list[str] = []
    for _ in range(HOLDS):
        hold = await client.post(
            f"{BASE}/transfers",
            json={
                "debit_account_id": str(wallet),
                "credit_account_id": str(merchant),
                "amount": AMOUNT,
                "currency": "EUR",
                "pending": True,
            },
            headers=ledger.headers(),
        )
        assert hold.status_code == 201 and hold.json()["status"] == "pending", hold.text
        hold_ids.append(hold.json()["id"])
    assert (await ledger.balance(wallet))["debits_pending"] == HOLDS * AMOUNT

    # Post first for even holds and void first for odd ones: both orders get raced.
    requests = []
    for index, hold_id in enumerate(hold_ids):
        pair = [
            client.post(f"{BASE}/transfers/{hold_id}/post", json={}, headers=ledger.headers()),
            client.post(f"{BASE}/transfers/{hold_id}/void", json={}, headers=ledger.headers()),
        ]
        requests += pair if index % 2 == 0 else pair[::-1]
    responses = await at_once(requests)

    no_server_errors(responses)
    posts_won = 0
    for index in range(HOLDS):
        pair = responses[2 * index : 2 * index + 2]
        post, void = pair if index % 2 == 0 else pair[::-1]
        winners = [r for r in (post, void) if r.status_code == 201]
        assert len(winners) == 1, [post.text, void.text]
        if winners[0] is post:
            posts_won += 1
            assert post.json()["kind"] == "post_pending" and post.json()["amount"] == AMOUNT
            assert (void.status_code, problem_type(void)) == (
                422,
                "pending_transfer_already_posted",
            )
        else:
            assert void.json()["kind"] == "void_pending" and void.json()["status"] == "voided"
            assert (post.status_code, problem_type(post)) == (
                422,
                "pending_transfer_already_voided",
            )
        assert winners[0].json()["parent_id"] == hold_ids[index]
    # Both outcomes must have been raced, or one of the two branches above proved nothing.
    # Sending post first for half the holds and void first for the other half steers the
    # race both ways (the first request sent usually reaches the row lock first).
    assert 0 < posts_won < HOLDS, f"posts won {posts_won} of {HOLDS}: one outcome never occurred"

    statuses = [
        (await client.get(f"{BASE}/transfers/{h}", headers=ledger.operator.headers)).json()[
            "status"
        ]
        for h in hold_ids
    ]
    assert statuses.count("posted") == posts_won
    assert statuses.count("voided") == HOLDS - posts_won
    balance = await ledger.balance(wallet)
    assert balance["debits_pending"] == 0  # every hold released, once
    assert balance["debits_posted"] == posts_won * AMOUNT
    assert balance["balance"] == FUNDS - posts_won * AMOUNT
    assert (await ledger.balance(merchant))["credits_posted"] == posts_won * AMOUNT
    resolutions = await ledger.scalar(
        "SELECT count(*) FROM ledger_transfers WHERE tenant_id = :t AND parent_id IS NOT NULL",
        t=ledger.operator.tenant_id,
    )
    assert resolutions == HOLDS
    assert await ledger.trial_balance_is_balanced()
