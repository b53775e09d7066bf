"""Issue 10 item 13: a rate of 0 (or below) and a rate on a single-currency transfer are
refused by the API (400 with the ledger's result code), by the batch, and by the database
itself whatever SQL is sent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors

from fiscus.core.db import Database, libpq_url
from tests.factories import Principal
from tests.ledger.factories import ledger_context, open_account

MakePrincipal = Callable[..., Awaitable[Principal]]
BASE = "/v1/ledger"
PROBLEMS = "https://fiscus.dev/problems/"
BAD_RATES = ["0", "0.0", "0.000000000000", "000"]


async def _account(client: httpx.AsyncClient, who: Principal, currency: str, side: str) -> str:
    body = {
        "code": f"acc-{uuid.uuid4().hex[:8]}",
        "name": "Account",
        "currency": currency,
        "type": "liability" if side == "credit" else "asset",
        "normal_side": side,
    }
    response = await client.post(f"{BASE}/accounts", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _fx_accounts(client: httpx.AsyncClient, who: Principal) -> dict[str, str]:
    return {
        "eur_customer": await _account(client, who, "EUR", "debit"),
        "eur_desk": await _account(client, who, "EUR", "credit"),
        "usd_desk": await _account(client, who, "USD", "debit"),
        "usd_customer": await _account(client, who, "USD", "credit"),
    }


def _two_currencies(a: dict[str, str], rate: str, **fx: str) -> dict[str, Any]:
    return {
        "currency": "EUR",
        "legs": [
            {"account_id": a["eur_customer"], "direction": "debit", "amount": 100},
            {"account_id": a["eur_desk"], "direction": "credit", "amount": 100},
            {"account_id": a["usd_desk"], "direction": "debit", "amount": 108, "currency": "USD"},
            {
                "account_id": a["usd_customer"],
                "direction": "credit",
                "amount": 108,
                "currency": "USD",
            },
        ],
        "fx": {"rate": rate, "from_currency": "EUR", "to_currency": "USD", **fx},
    }


def _one_currency(a: dict[str, str], rate: str) -> dict[str, Any]:
    return {
        "debit_account_id": a["eur_customer"],
        "credit_account_id": a["eur_desk"],
        "amount": 100,
        "currency": "EUR",
        "fx": {"rate": rate, "from_currency": "EUR", "to_currency": "USD"},
    }


async def _count(client: httpx.AsyncClient, who: Principal, account_id: str) -> int:
    response = await client.get(f"{BASE}/accounts/{account_id}/entries", headers=who.headers)
    return len(response.json()["data"])


@pytest.mark.parametrize("rate", BAD_RATES)
async def test_a_rate_that_is_not_positive_is_refused_with_400(
    client: httpx.AsyncClient, make_principal: MakePrincipal, rate: str
) -> None:
    who = await make_principal(role="operator")
    accounts = await _fx_accounts(client, who)
    response = await client.post(
        f"{BASE}/transfers",
        json=_two_currencies(accounts, rate),
        headers={**who.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == PROBLEMS + "fx_rate_must_be_positive"
    assert response.json()["code"] == "fx_rate_must_be_positive"
    assert await _count(client, who, accounts["eur_customer"]) == 0


@pytest.mark.parametrize("rate", ["0", "1.0842"])
async def test_a_rate_on_a_single_currency_transfer_is_refused_with_400(
    client: httpx.AsyncClient, make_principal: MakePrincipal, rate: str
) -> None:
    who = await make_principal(role="operator")
    accounts = await _fx_accounts(client, who)
    response = await client.post(
        f"{BASE}/transfers",
        json=_one_currency(accounts, rate),
        headers={**who.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 400, response.text
    # A zero rate on one currency breaks both rules; the rate is named first.
    code = "fx_rate_must_be_positive" if rate == "0" else "fx_on_single_currency_transfer"
    assert response.json()["type"] == PROBLEMS + code
    assert await _count(client, who, accounts["eur_customer"]) == 0


@pytest.mark.parametrize(
    "fx", [{"to_currency": "EUR"}, {"from_currency": "GBP"}, {"to_currency": "JPY"}]
)
async def test_a_rate_must_name_the_two_currencies_the_transfer_moves(
    client: httpx.AsyncClient, make_principal: MakePrincipal, fx: dict[str, str]
) -> None:
    who = await make_principal(role="operator")
    accounts = await _fx_accounts(client, who)
    response = await client.post(
        f"{BASE}/transfers",
        json=_two_currencies(accounts, "1.08", **fx),
        headers={**who.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == PROBLEMS + "fx_currencies_not_in_transfer"


async def test_a_positive_rate_between_the_transfers_currencies_is_stored(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    who = await make_principal(role="operator")
    accounts = await _fx_accounts(client, who)
    response = await client.post(
        f"{BASE}/transfers",
        json=_two_currencies(accounts, "0.000000000001"),
        headers={**who.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    assert response.json()["fx"]["rate"] == "0.000000000001"


async def test_batch_items_with_a_bad_rate_are_refused_per_item(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    who = await make_principal(role="operator")
    accounts = await _fx_accounts(client, who)
    body = {
        "mode": "independent",
        "transfers": [
            _two_currencies(accounts, "0"),
            _one_currency(accounts, "1.5"),
            _two_currencies(accounts, "1.08"),
        ],
    }
    response = await client.post(
        f"{BASE}/transfers/batch",
        json=body,
        headers={**who.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 200, response.text
    codes = [item["code"] for item in response.json()["results"]]
    assert codes == ["fx_rate_must_be_positive", "fx_on_single_currency_transfer", "ok"]


@pytest.fixture
def sql(clean_database: str) -> Iterator[psycopg.Connection]:
    """A raw connection as the login role."""
    with psycopg.connect(libpq_url(clean_database)) as connection:
        yield connection


POST = (
    "SELECT code FROM ledger_post(%s, %s, false, NULL, 'EUR', %s::uuid[],"
    " %s::text[], %s::int8[], %s::text[], false, NULL, now(), NULL, NULL, '{}', %s::jsonb,"
    " gen_random_uuid())"
)


async def test_the_posting_function_refuses_bad_rates_whatever_the_caller(
    db: Database, sql: psycopg.Connection
) -> None:
    ctx = ledger_context()
    eur = [await open_account(db, ctx, normal_side=side) for side in ("debit", "credit")]
    usd = [
        await open_account(db, ctx, currency="USD", normal_side=side)
        for side in ("debit", "credit")
    ]
    one = ([eur[0].id, eur[1].id], ["debit", "credit"], [5, 5], ["EUR", "EUR"])
    two = (
        [eur[0].id, eur[1].id, usd[0].id, usd[1].id],
        ["debit", "credit", "debit", "credit"],
        [5, 5, 6, 6],
        ["EUR", "EUR", "USD", "USD"],
    )
    cases = [
        (
            two,
            {"rate": "0", "from_currency": "EUR", "to_currency": "USD"},
            "fx_rate_must_be_positive",
        ),
        (
            two,
            {"rate": "-1.2", "from_currency": "EUR", "to_currency": "USD"},
            "fx_rate_must_be_positive",
        ),
        (
            two,
            {"rate": "abc", "from_currency": "EUR", "to_currency": "USD"},
            "fx_rate_must_be_positive",
        ),
        (
            one,
            {"rate": "1.2", "from_currency": "EUR", "to_currency": "USD"},
            "fx_on_single_currency_transfer",
        ),
        (
            two,
            {"rate": "1.2", "from_currency": "EUR", "to_currency": "EUR"},
            "fx_currencies_not_in_transfer",
        ),
        (two, {"rate": "1.2", "from_currency": "EUR", "to_currency": "USD"}, "ok"),
    ]
    with sql.transaction():
        sql.execute("SELECT set_config('fiscus.tenant_id', %s, true)", (str(ctx.tenant_id),))
        for legs, fx, expected in cases:
            found = sql.execute(POST, (ctx.tenant_id, uuid.uuid4(), *legs, json.dumps(fx)))
            assert found.fetchone() == (expected,), fx
    assert sql.execute("SELECT count(*) FROM ledger_transfers").fetchone() == (1,)


@pytest.mark.parametrize("rate", ["0", "-1", "0.00", "x"])
async def test_a_stored_rate_must_be_positive_even_for_a_raw_insert(
    db: Database, sql: psycopg.Connection, rate: str
) -> None:
    ctx = ledger_context()
    with pytest.raises(errors.CheckViolation), sql.transaction():
        sql.execute(
            "INSERT INTO ledger_transfers (tenant_id, id, kind, status, pending, currency,"
            " amount, effective_at, recorded_at, metadata, fx)"
            " VALUES (%s, %s, 'transfer', 'posted', false, 'EUR', 0, now(), now(), '{}', %s)",
            (ctx.tenant_id, uuid.uuid4(), json.dumps({"rate": rate})),
        )
    assert sql.execute("SELECT count(*) FROM ledger_transfers").fetchone() == (0,)


async def test_a_batch_reusing_an_id_keeps_the_rates_of_its_new_items(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    # A batch that repeats a stored transfer's id goes through the database's batch
    # function; the rate of a new item in it must be stored like in any other batch.
    who = await make_principal(role="operator")
    accounts = await _fx_accounts(client, who)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    stored = {**_two_currencies(accounts, "1.08"), "id": first}
    headers = {**who.headers, "Idempotency-Key": uuid.uuid4().hex}
    response = await client.post(f"{BASE}/transfers", json=stored, headers=headers)
    assert response.status_code == 201, response.text
    body = {
        "mode": "independent",
        "transfers": [stored, {**_two_currencies(accounts, "1.25"), "id": second}],
    }
    response = await client.post(
        f"{BASE}/transfers/batch",
        json=body,
        headers={**who.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 200, response.text
    assert [item["code"] for item in response.json()["results"]] == ["exists", "ok"]
    fetched = await client.get(f"{BASE}/transfers/{second}", headers=who.headers)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["fx"] == {"rate": "1.25", "from_currency": "EUR", "to_currency": "USD"}
