"""Race: 100 identical transfer requests with one Idempotency-Key, all at once, over HTTP.

The ledger keeps the key on the transfer itself (unique per tenant), so whichever request
inserts first wins and every other one, whether it was waiting for the account locks or
lost the insert, answers that same transfer as a replay. Proven here: exactly one stored
transfer (SQL count and balances), one original 201 and replays of the same id, and no
5xx even though the requests far outnumber the pool's connections.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from tests.factories import Principal
from tests.races.helpers import BASE, at_once, ledger_of, no_server_errors, problem_type

# Bursts of concurrent requests (or two workers): one at a time, on one xdist worker.
pytestmark = pytest.mark.xdist_group("races")

REQUESTS = 100


async def test_hundred_identical_requests_with_one_key_post_one_transfer(
    app: FastAPI, client: httpx.AsyncClient, make_principal: Callable[..., Awaitable[Principal]]
) -> None:
    ledger = ledger_of(app, client, await make_principal(role="operator"))
    bank = await ledger.account(normal_side="debit")
    wallet = await ledger.account()
    body = {
        "debit_account_id": str(bank),
        "credit_account_id": str(wallet),
        "amount": 1250,
        "currency": "EUR",
        "description": "one payout",
    }
    headers = ledger.headers(uuid.uuid4().hex)

    responses = await at_once(
        client.post(f"{BASE}/transfers", json=body, headers=headers) for _ in range(REQUESTS)
    )

    no_server_errors(responses)
    created = [r for r in responses if r.status_code == 201]
    # The only other documented answer to a duplicate is "still in progress, retry".
    others = [(r.status_code, problem_type(r)) for r in responses if r.status_code != 201]
    assert set(others) <= {(409, "idempotency-key-in-use")}, others
    assert {r.json()["id"] for r in created} == {created[0].json()["id"]}
    originals = [r for r in created if r.headers.get("idempotent-replayed") != "true"]
    assert len(originals) == 1, [r.headers for r in originals]
    transfer_id = originals[0].json()["id"]
    assert all(r.json()["amount"] == 1250 for r in created)

    stored = await ledger.scalar(
        "SELECT count(*) FROM ledger_transfers WHERE tenant_id = :t",
        t=ledger.operator.tenant_id,
    )
    assert stored == 1
    assert str(await ledger.scalar("SELECT id FROM ledger_transfers")) == transfer_id
    assert (await ledger.balance(wallet))["credits_posted"] == 1250
    assert (await ledger.balance(bank))["debits_posted"] == 1250
    assert len(await ledger.entries(wallet)) == 1
    assert await ledger.trial_balance_is_balanced()
