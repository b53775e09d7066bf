"""The /v1/ledger API end to end: real app, real identity (signed-in users), real database."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]
BASE = "/v1/ledger"


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def _account(client: httpx.AsyncClient, who: Principal, **fields: Any) -> dict[str, Any]:
    body = {
        "code": f"acc-{uuid.uuid4().hex[:8]}",
        "name": "Account",
        "currency": "EUR",
        "type": "liability",
        "normal_side": "credit",
        **fields,
    }
    response = await client.post(f"{BASE}/accounts", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
async def operator(make_principal: MakePrincipal) -> Principal:
    return await make_principal(role="operator")


async def _funded(client: httpx.AsyncClient, who: Principal) -> tuple[str, str]:
    bank = await _account(client, who, type="asset", normal_side="debit")
    wallet = await _account(client, who, flags=["debits_must_not_exceed_credits"])
    response = await client.post(
        f"{BASE}/transfers",
        json={
            "debit_account_id": bank["id"],
            "credit_account_id": wallet["id"],
            "amount": 100,
            "currency": "EUR",
        },
        headers={**who.headers, **key()},
    )
    assert response.status_code == 201, response.text
    return bank["id"], wallet["id"]


async def test_accounts_open_list_get_limit_close(
    client: httpx.AsyncClient, operator: Principal
) -> None:
    account = await _account(
        client,
        operator,
        flags=["debits_must_not_exceed_credits"],
        overdraft_limit=5,
        metadata={"holder_user_id": str(operator.user_id)},
    )
    assert (
        account["flags"] == ["debits_must_not_exceed_credits"] and account["overdraft_limit"] == 5
    )
    duplicate = await client.post(
        f"{BASE}/accounts",
        json={
            "code": account["code"],
            "name": "x",
            "currency": "EUR",
            "type": "asset",
            "normal_side": "debit",
        },
        headers=operator.headers,
    )
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"
    assert duplicate.json()["type"].endswith("/ledger-account-code-taken")
    await _account(client, operator)
    page = await client.get(f"{BASE}/accounts", params={"limit": 1}, headers=operator.headers)
    assert page.status_code == 200 and len(page.json()["data"]) == 1
    rest = await client.get(
        f"{BASE}/accounts",
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
        headers=operator.headers,
    )
    assert (
        len(rest.json()["data"]) == 1
        and rest.json()["data"][0]["id"] != page.json()["data"][0]["id"]
    )
    got = await client.get(f"{BASE}/accounts/{account['id']}", headers=operator.headers)
    assert got.status_code == 200 and got.json()["code"] == account["code"]
    changed = await client.patch(
        f"{BASE}/accounts/{account['id']}", json={"overdraft_limit": 50}, headers=operator.headers
    )
    assert changed.status_code == 200 and changed.json()["overdraft_limit"] == 50
    closed = await client.post(f"{BASE}/accounts/{account['id']}/close", headers=operator.headers)
    assert closed.status_code == 200 and "closed" in closed.json()["flags"]


async def test_accounts_of_another_tenant_are_404(
    client: httpx.AsyncClient, operator: Principal, make_principal: MakePrincipal
) -> None:
    account = await _account(client, operator)
    stranger = await make_principal(role="operator")
    for path in ("", "/balance", "/entries"):
        response = await client.get(
            f"{BASE}/accounts/{account['id']}{path}", headers=stranger.headers
        )
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"


async def test_permissions_and_authentication(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    analyst = await make_principal(role="analyst")
    body = {"code": "x", "name": "x", "currency": "EUR", "type": "asset", "normal_side": "debit"}
    refused = await client.post(f"{BASE}/accounts", json=body, headers=analyst.headers)
    assert refused.status_code == 403 and refused.json()["type"].endswith("/forbidden")
    assert (await client.get(f"{BASE}/accounts", headers=analyst.headers)).status_code == 200
    assert (await client.get(f"{BASE}/trial-balance")).status_code == 401
    customer = await make_principal(role="customer")
    assert (await client.get(f"{BASE}/accounts", headers=customer.headers)).status_code == 403


async def test_post_transfer_replays_and_refuses_with_result_codes(
    client: httpx.AsyncClient, operator: Principal
) -> None:
    bank, wallet = await _funded(client, operator)
    body = {
        "legs": [
            {"account_id": wallet, "direction": "debit", "amount": 30},
            {"account_id": bank, "direction": "credit", "amount": 30},
        ],
        "currency": "EUR",
        "description": "rent",
    }
    headers = {**operator.headers, **key()}
    first = await client.post(f"{BASE}/transfers", json=body, headers=headers)
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["status"] == "posted" and created["amount"] == 30 and len(created["legs"]) == 2
    again = await client.post(f"{BASE}/transfers", json=body, headers=headers)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == created["id"]
    changed = await client.post(
        f"{BASE}/transfers", json={**body, "description": "other"}, headers=headers
    )
    assert changed.status_code == 409
    assert changed.json()["code"] == "exists_with_different_description"
    too_much = {
        "debit_account_id": wallet,
        "credit_account_id": bank,
        "amount": 71,
        "currency": "EUR",
    }
    refused = await client.post(
        f"{BASE}/transfers", json=too_much, headers={**operator.headers, **key()}
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "https://fiscus.dev/problems/exceeds_credits"
    assert problem["code"] == "exceeds_credits" and problem["instance"] == f"{BASE}/transfers"
    missing_key = await client.post(f"{BASE}/transfers", json=too_much, headers=operator.headers)
    assert missing_key.status_code == 400
    assert missing_key.json()["type"].endswith("/idempotency-key-required")
    malformed = await client.post(
        f"{BASE}/transfers",
        json={"currency": "EUR", "amount": 1.5},
        headers={**operator.headers, **key()},
    )
    assert malformed.status_code == 400
    stored = await client.get(f"{BASE}/transfers/{created['id']}", headers=operator.headers)
    assert stored.status_code == 200 and stored.json()["description"] == "rent"
    balance = await client.get(f"{BASE}/accounts/{wallet}/balance", headers=operator.headers)
    assert balance.json()["balance"] == 70 and balance.json()["available"] == 70
    then = await client.get(
        f"{BASE}/accounts/{wallet}/balance",
        params={"as_of": created["recorded_at"]},
        headers=operator.headers,
    )
    assert then.json()["balance"] == 70
    entries = await client.get(f"{BASE}/accounts/{wallet}/entries", headers=operator.headers)
    assert [e["balance"] for e in entries.json()["data"]] == [70, 100]


async def test_pending_post_void_reverse(client: httpx.AsyncClient, operator: Principal) -> None:
    bank, wallet = await _funded(client, operator)
    hold_body = {
        "debit_account_id": wallet,
        "credit_account_id": bank,
        "amount": 40,
        "currency": "EUR",
        "pending": True,
        "timeout_s": 600,
    }
    hold = (
        await client.post(
            f"{BASE}/transfers", json=hold_body, headers={**operator.headers, **key()}
        )
    ).json()
    assert hold["status"] == "pending" and hold["timeout_at"] is not None
    headers = {**operator.headers, **key()}
    posted = await client.post(
        f"{BASE}/transfers/{hold['id']}/post", json={"amount": 25}, headers=headers
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["kind"] == "post_pending" and posted.json()["amount"] == 25
    replay = await client.post(
        f"{BASE}/transfers/{hold['id']}/post", json={"amount": 25}, headers=headers
    )
    assert (
        replay.headers["idempotent-replayed"] == "true"
        and replay.json()["id"] == posted.json()["id"]
    )
    twice = await client.post(
        f"{BASE}/transfers/{hold['id']}/void", json={}, headers={**operator.headers, **key()}
    )
    assert twice.status_code == 422 and twice.json()["code"] == "pending_transfer_already_posted"
    other = (
        await client.post(
            f"{BASE}/transfers", json=hold_body, headers={**operator.headers, **key()}
        )
    ).json()
    voided = await client.post(
        f"{BASE}/transfers/{other['id']}/void", json={}, headers={**operator.headers, **key()}
    )
    assert voided.status_code == 201 and voided.json()["status"] == "voided"
    reversed_ = await client.post(
        f"{BASE}/transfers/{posted.json()['id']}/reverse",
        json={"description": "refund"},
        headers={**operator.headers, **key()},
    )
    assert reversed_.status_code == 201 and reversed_.json()["kind"] == "reversal"
    again = await client.post(
        f"{BASE}/transfers/{posted.json()['id']}/reverse",
        json={},
        headers={**operator.headers, **key()},
    )
    assert again.status_code == 422 and again.json()["code"] == "transfer_already_reversed"
    missing = await client.post(
        f"{BASE}/transfers/{uuid.uuid4()}/post", json={}, headers={**operator.headers, **key()}
    )
    assert missing.status_code == 404 and missing.json()["code"] == "pending_transfer_not_found"
    balance = (
        await client.get(f"{BASE}/accounts/{wallet}/balance", headers=operator.headers)
    ).json()
    assert (balance["balance"], balance["debits_pending"]) == (100, 0)


async def test_batch_and_trial_balance(client: httpx.AsyncClient, operator: Principal) -> None:
    bank, wallet = await _funded(client, operator)
    items = [
        {"debit_account_id": wallet, "credit_account_id": bank, "amount": 60, "currency": "EUR"},
        {"debit_account_id": wallet, "credit_account_id": bank, "amount": 60, "currency": "EUR"},
    ]
    atomic = await client.post(
        f"{BASE}/transfers/batch",
        json={"mode": "atomic", "transfers": items},
        headers={**operator.headers, **key()},
    )
    assert (
        atomic.status_code == 422
        and atomic.json()["index"] == 1
        and atomic.json()["code"] == "exceeds_credits"
    )
    headers = {**operator.headers, **key()}
    independent = await client.post(
        f"{BASE}/transfers/batch", json={"mode": "independent", "transfers": items}, headers=headers
    )
    assert independent.status_code == 200
    assert [r["code"] for r in independent.json()["results"]] == ["ok", "exceeds_credits"]
    replay = await client.post(
        f"{BASE}/transfers/batch", json={"mode": "independent", "transfers": items}, headers=headers
    )
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == independent.json()
    too_big = await client.post(
        f"{BASE}/transfers/batch",
        json={"mode": "atomic", "transfers": []},
        headers={**operator.headers, **key()},
    )
    assert too_big.status_code == 400
    tb = await client.get(f"{BASE}/trial-balance", headers=operator.headers)
    assert tb.status_code == 200 and tb.json()["balanced"] is True
    assert tb.json()["currencies"][0]["debits_posted"] == 160
