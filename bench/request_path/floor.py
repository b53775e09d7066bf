"""The lean floor: what an authenticated balance GET costs with nothing but the essentials.

A Starlette app on a psycopg pool doing the two look-ups such a request needs and nothing
else: the API key by its SHA-256 (with its tenant's status), then the account's balances,
both on one pooled connection, one round trip each, JSON out. No ORM, no middleware, no
rate limits, no audit. fiscus must do more than this (tenant isolation, problem details,
rate limits, metrics), so the ratio fiscus/floor says what that "more" costs.

Run by uvicorn (`uvicorn --factory bench.request_path.floor:app`), with
BENCH_FLOOR_DSN set to the database fiscus uses.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

KEY_SQL = (
    "SELECT k.tenant_id, k.role FROM api_keys k JOIN tenants t ON t.id = k.tenant_id"
    " WHERE k.key_hash = %s AND k.revoked_at IS NULL AND t.status = 'active'"
)
BALANCE_SQL = (
    "SELECT currency, debits_posted, credits_posted, debits_pending, credits_pending,"
    " normal_side FROM ledger_accounts WHERE tenant_id = %s AND id = %s"
)


def app() -> Starlette:
    """The floor application."""
    pool = AsyncConnectionPool(os.environ["BENCH_FLOOR_DSN"], min_size=4, max_size=20, open=False)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await pool.open()
        yield
        await pool.close()

    async def balance(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        digest = hashlib.sha256(token.encode()).digest()
        async with pool.connection() as connection:
            key = await (await connection.execute(KEY_SQL, (digest,))).fetchone()
            if key is None:
                return Response(status_code=401)
            account = request.path_params["account_id"]
            row = await (await connection.execute(BALANCE_SQL, (key[0], account))).fetchone()
        if row is None:
            return Response(status_code=404)
        currency, dp, cp, dq, cq, side = row
        posted = cp - dp if side == "credit" else dp - cp
        body = {
            "account_id": account,
            "currency": currency,
            "balance": posted,
            "debits_posted": dp,
            "credits_posted": cp,
            "debits_pending": dq,
            "credits_pending": cq,
        }
        return Response(json.dumps(body), media_type="application/json")

    async def healthz(_: Request) -> Response:
        return Response('{"status": "ok"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/v1/ledger/accounts/{account_id}/balance", balance),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
