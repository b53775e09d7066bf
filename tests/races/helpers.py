"""Shared pieces of the race tests: a tenant's ledger over HTTP, firing requests at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from fiscus.access.context import Context
from fiscus.core.db import Database
from tests.factories import Principal
from tests.ledger.factories import ledger_context, move, open_account

BASE = "/v1/ledger"
PROBLEM = "application/problem+json"
PROBLEM_BASE = "https://fiscus.dev/problems/"


@dataclass
class Ledger:
    """An operator of a fresh tenant, and the app's database for setup and SQL checks."""

    client: httpx.AsyncClient
    operator: Principal
    db: Database
    ctx: Context

    async def account(self, **options: Any) -> uuid.UUID:
        """An open account of the tenant (see tests.ledger.factories.open_account)."""
        return (await open_account(self.db, self.ctx, **options)).id

    async def wallet(self, *, funded_by: uuid.UUID, amount: int) -> uuid.UUID:
        """A wallet (never below zero) holding `amount` moved in from `funded_by`."""
        wallet = await self.account(flags=["debits_must_not_exceed_credits"])
        await move(self.db, self.ctx, funded_by, wallet, amount)
        return wallet

    def headers(self, key: str | None = None) -> dict[str, str]:
        """The operator's auth headers with an Idempotency-Key (a fresh one by default)."""
        return {**self.operator.headers, "Idempotency-Key": key or uuid.uuid4().hex}

    async def balance(self, account_id: uuid.UUID) -> dict[str, Any]:
        """The account's balance as the API reports it."""
        response = await self.client.get(
            f"{BASE}/accounts/{account_id}/balance", headers=self.operator.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def entries(self, account_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every entry of the account (newest first), following the cursor."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(100):
            params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            response = await self.client.get(
                f"{BASE}/accounts/{account_id}/entries",
                params=params,
                headers=self.operator.headers,
            )
            assert response.status_code == 200, response.text
            found.extend(response.json()["data"])
            cursor = response.json()["next_cursor"]
            if cursor is None:
                return found
        raise AssertionError("more entries than the test ever writes")

    async def trial_balance_is_balanced(self) -> bool:
        """The API's trial balance of the tenant says debits equal credits."""
        response = await self.client.get(f"{BASE}/trial-balance", headers=self.operator.headers)
        assert response.status_code == 200, response.text
        return bool(response.json()["balanced"])

    async def scalar(self, sql: str, **params: Any) -> Any:
        """One value straight from the database (as the login role: no RLS in the way)."""
        async with self.db.uow() as uow:
            return await uow.session.scalar(text(sql), params)


def ledger_of(app: FastAPI, client: httpx.AsyncClient, operator: Principal) -> Ledger:
    """The ledger of the operator's tenant."""
    return Ledger(client, operator, app.state.db, ledger_context(operator.tenant_id))


async def at_once(requests: Iterable[Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """Send every request concurrently (the app handles them on one loop, its real pool)."""
    return list(await asyncio.gather(*requests))


def problem_type(response: httpx.Response) -> str:
    """The problem `type` slug of an error response, checking it is problem+json."""
    assert response.headers["content-type"] == PROBLEM, response.text
    body = response.json()
    assert body["status"] == response.status_code, body
    assert body["type"].startswith(PROBLEM_BASE), body
    return str(body["type"]).removeprefix(PROBLEM_BASE)


def no_server_errors(responses: Iterable[httpx.Response]) -> None:
    """No response is a 5xx (a deadlock, a pool timeout or a crash reaching the client)."""
    faults = [(r.status_code, r.text) for r in responses if r.status_code >= 500]
    assert faults == [], faults
