"""Race: 50 withdrawals of a wallet's whole balance at once, each with its own key.

The posting function locks the wallet row before checking its balance, so the requests
are decided one after another: the first takes everything and every later one sees an
empty wallet. Proven over HTTP: exactly one 201, 49 definite `exceeds_credits` refusals
(422 problem+json, nothing stored for them), a final balance of 0, and no entry in the
wallet's history ever showing a negative balance.
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

WITHDRAWALS = 50
BALANCE = 10_000


async def test_fifty_full_balance_withdrawals_let_exactly_one_through(
    app: FastAPI, client: httpx.AsyncClient, make_principal: Callable[..., Awaitable[Principal]]
) -> None:
    ledger = ledger_of(app, client, await make_principal(role="operator"))
    bank = await ledger.account(normal_side="debit")
    wallet = await ledger.wallet(funded_by=bank, amount=BALANCE)
    body = {
        "debit_account_id": str(wallet),
        "credit_account_id": str(bank),
        "amount": BALANCE,
        "currency": "EUR",
    }

    responses = await at_once(
        client.post(f"{BASE}/transfers", json=body, headers=ledger.headers())
        for _ in range(WITHDRAWALS)
    )

    no_server_errors(responses)
    accepted = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(accepted) == 1, [r.text for r in accepted]
    assert accepted[0].json()["status"] == "posted"
    assert [(r.status_code, problem_type(r)) for r in refused] == [(422, "exceeds_credits")] * (
        WITHDRAWALS - 1
    )
    assert all(r.json()["code"] == "exceeds_credits" for r in refused)

    balance = await ledger.balance(wallet)
    assert (balance["balance"], balance["available"]) == (0, 0)
    assert (balance["debits_posted"], balance["credits_posted"]) == (BALANCE, BALANCE)
    history = await ledger.entries(wallet)
    assert len(history) == 2  # the funding and the one withdrawal
    assert min(entry["balance"] for entry in history) >= 0
    stored = await ledger.scalar(
        "SELECT count(*) FROM ledger_transfers WHERE tenant_id = :t",
        t=ledger.operator.tenant_id,
    )
    assert stored == 2
    assert await ledger.trial_balance_is_balanced()
