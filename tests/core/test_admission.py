"""Admission control (core/admission.py): past the requests a process works on at once, a
request that cannot start in time gets a quick 503 `server-busy`, never a growing queue;
probes still answer, and what was admitted finishes.

The request in progress is held by the database itself: the test locks the debit account's
row in its own transaction, so the transfer POST waits inside the ledger exactly as it would
behind a slow neighbour."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from fiscus.core.config import Settings
from fiscus.core.db import libpq_url
from tests.conftest import make_settings
from tests.factories import Principal

PROBLEM_BASE = "https://fiscus.dev/problems/"
WAIT_S = 0.3


@pytest.fixture
def settings(clean_database: str) -> Settings:
    return make_settings(clean_database, max_requests_in_progress=1, admission_wait_s=WAIT_S)


async def _account(client: httpx.AsyncClient, owner: Principal, side: str) -> str:
    response = await client.post(
        "/v1/ledger/accounts",
        json={
            "code": f"acc-{uuid.uuid4().hex[:10]}",
            "name": "Admission",
            "currency": "EUR",
            "type": "liability" if side == "credit" else "asset",
            "normal_side": side,
        },
        headers={**owner.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _waiting_on_a_lock(url: str) -> bool:
    async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
        row = await (
            await conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        ).fetchone()
    return bool(row and row[0])


async def test_a_request_past_capacity_is_refused_at_once_and_the_admitted_one_finishes(
    app: FastAPI, client: httpx.AsyncClient, make_principal: object
) -> None:
    owner: Principal = await make_principal(role="owner")  # type: ignore[operator]
    debit = await _account(client, owner, "debit")
    credit = await _account(client, owner, "credit")
    url = app.state.database_url
    async with await psycopg.AsyncConnection.connect(libpq_url(url)) as holder:
        await holder.execute("SELECT 1 FROM ledger_accounts WHERE id = %s FOR UPDATE", (debit,))
        transfer = asyncio.create_task(
            client.post(
                "/v1/ledger/transfers",
                json={
                    "debit_account_id": debit,
                    "credit_account_id": credit,
                    "amount": 500,
                    "currency": "EUR",
                },
                headers={**owner.headers, "Idempotency-Key": uuid.uuid4().hex},
            )
        )
        for _ in range(200):  # the transfer is admitted and now waits on the row lock
            if await _waiting_on_a_lock(url):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the transfer never reached the locked row")

        started = time.monotonic()
        refused = await client.get(f"/v1/ledger/accounts/{credit}/balance", headers=owner.headers)
        waited = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["type"] == PROBLEM_BASE + "server-busy"
        assert "request_id" in refused.json()
        # It waited for a place (not refused before the wait), and did not queue longer.
        assert waited >= WAIT_S * 0.9, waited
        assert not transfer.done()
        # A busy node is not a dead one: probes are never refused.
        assert (await client.get("/healthz")).status_code == 200
        await holder.commit()

    done = await transfer
    assert done.status_code == 201, done.text
    balance = await client.get(f"/v1/ledger/accounts/{credit}/balance", headers=owner.headers)
    assert balance.status_code == 200, balance.text
    assert balance.json()["balance"] == 500


async def test_the_refusal_is_documented_on_every_operation_but_the_probes(app: FastAPI) -> None:
    document = app.openapi()
    types_by_path = {
        path: {
            example.get("value", {}).get("type")
            for operation in operations.values()
            if isinstance(operation, dict)
            for example in operation.get("responses", {})
            .get("503", {})
            .get("content", {})
            .get("application/problem+json", {})
            .get("examples", {})
            .values()
        }
        for path, operations in document["paths"].items()
    }
    assert PROBLEM_BASE + "server-busy" in types_by_path["/v1/ledger/transfers"]
    assert PROBLEM_BASE + "server-busy" not in types_by_path.get("/healthz", set())
