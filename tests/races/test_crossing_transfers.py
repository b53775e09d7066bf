"""Race: transfers crossing the same accounts in opposite directions, all at once.

A->B and B->A (50 each) plus triangles A->B->C->A and three-leg transfers whose legs name
the accounts in different orders, all over the same three wallets. Each posting locks its
accounts in id order whatever the order of its legs, so no two requests wait for each
other in a cycle; if PostgreSQL ever did report a deadlock or serialization failure, the
service retries it and the client never sees it. Proven over HTTP: every request is a
201 or a business refusal (422 `exceeds_credits`), nothing is a 5xx or mentions a
deadlock, each balance is exactly what the accepted transfers say, and money is conserved.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import Principal
from tests.races.helpers import BASE, at_once, ledger_of, no_server_errors, problem_type

# Bursts of concurrent requests (or two workers): one at a time, on one xdist worker.
pytestmark = pytest.mark.xdist_group("races")

EACH_WAY = 50
TRIANGLES = 5
THREE_LEG = 10
FUNDS = 2_000


def _two_legs(debit: uuid.UUID, credit: uuid.UUID, amount: int) -> dict[str, Any]:
    return {
        "debit_account_id": str(debit),
        "credit_account_id": str(credit),
        "amount": amount,
        "currency": "EUR",
    }


def _three_legs(rng: random.Random, debit: uuid.UUID, *credits: uuid.UUID) -> dict[str, Any]:
    amounts = [rng.randint(1, 40) for _ in credits]
    legs = [{"account_id": str(debit), "direction": "debit", "amount": sum(amounts)}]
    legs += [
        {"account_id": str(c), "direction": "credit", "amount": a}
        for c, a in zip(credits, amounts, strict=True)
    ]
    rng.shuffle(legs)
    return {"legs": legs, "currency": "EUR"}


async def test_crossing_transfers_all_answer_and_conserve_money(
    app: FastAPI, client: httpx.AsyncClient, make_principal: Callable[..., Awaitable[Principal]]
) -> None:
    ledger = ledger_of(app, client, await make_principal(role="operator"))
    bank = await ledger.account(normal_side="debit")
    a, b, c = [await ledger.wallet(funded_by=bank, amount=FUNDS) for _ in range(3)]
    rng = random.Random(6)
    bodies = [_two_legs(a, b, rng.randint(1, 100)) for _ in range(EACH_WAY)]
    bodies += [_two_legs(b, a, rng.randint(1, 100)) for _ in range(EACH_WAY)]
    for _ in range(TRIANGLES):
        bodies += [_two_legs(x, y, rng.randint(1, 100)) for x, y in ((a, b), (b, c), (c, a))]
    for index in range(THREE_LEG):
        payer, *payees = (a, b, c)[index % 3 :] + (a, b, c)[: index % 3]
        bodies.append(_three_legs(rng, payer, *payees))
    rng.shuffle(bodies)

    responses = await at_once(
        client.post(f"{BASE}/transfers", json=body, headers=ledger.headers()) for body in bodies
    )

    no_server_errors(responses)
    assert not [r.text for r in responses if "deadlock" in r.text.lower()]
    refusals = Counter((r.status_code, problem_type(r)) for r in responses if r.status_code != 201)
    assert set(refusals) <= {(422, "exceeds_credits")}, refusals
    accepted = [r.json() for r in responses if r.status_code == 201]
    assert len(accepted) > len(bodies) // 2  # the funds cover most of them
    expected = {a: FUNDS, b: FUNDS, c: FUNDS}
    for transfer in accepted:
        for leg in transfer["legs"]:
            sign = 1 if leg["direction"] == "credit" else -1
            expected[uuid.UUID(leg["account_id"])] += sign * leg["amount"]
    balances = {account: (await ledger.balance(account))["balance"] for account in expected}
    assert balances == expected
    assert sum(balances.values()) == 3 * FUNDS
    assert min(balances.values()) >= 0
    stored = await ledger.scalar(
        "SELECT count(*) FROM ledger_transfers WHERE tenant_id = :t",
        t=ledger.operator.tenant_id,
    )
    assert stored == 3 + len(accepted)
    assert await ledger.trial_balance_is_balanced()
