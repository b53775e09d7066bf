"""Idempotency keys: replay, conflicting body, concurrent duplicates, failures, expiry."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import func, select, text
from starlette.responses import Response

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.errors import PROBLEM_BASE, BusinessRuleViolation
from fiscus.core.http import Metrics, RequestMiddleware, install_error_handlers
from fiscus.core.idempotency import IdempotencyStore, idempotent, model_response
from fiscus.core.keyring import KeyRing
from fiscus.core.models import IdempotencyKey
from tests.factories import keyring_for

TENANT = uuid.UUID("01900000-0000-7000-8000-000000000001")
OTHER_TENANT = uuid.UUID("01900000-0000-7000-8000-000000000002")


def _app(db: Database, calls: list[str], keyring: KeyRing) -> FastAPI:
    """A small app whose POST /things records each real execution in the database."""
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestMiddleware, metrics=Metrics(), max_body_bytes=4096)
    store = IdempotencyStore(db, keyring=keyring)

    @app.post("/things")
    async def create(request: Request) -> Response:
        tenant = uuid.UUID(request.headers.get("X-Tenant", str(TENANT)))
        body = await request.json()

        async def handler() -> Response:
            calls.append(body.get("name", ""))
            await asyncio.sleep(0.05)  # long enough for concurrent duplicates to overlap
            if body.get("refuse"):
                raise BusinessRuleViolation("refused on purpose")
            if body.get("crash"):
                return Response(status_code=503)
            return model_response({"id": str(uuid.uuid4()), "name": body["name"]}, status_code=201)

        return await idempotent(
            request,
            store=store,
            tenant_id=tenant,
            required=bool(body.get("money")),
            handler=handler,
        )

    return app


@pytest.fixture
async def setup(db: Database) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    calls: list[str] = []
    transport = httpx.ASGITransport(app=_app(db, calls, await keyring_for(db)))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, calls


async def test_same_key_same_body_replays_first_response(setup: tuple, random_key: str) -> None:
    client, calls = setup
    first = await client.post(
        "/things", json={"name": "a"}, headers={"Idempotency-Key": random_key}
    )
    second = await client.post(
        "/things", json={"name": "a"}, headers={"Idempotency-Key": random_key}
    )
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert calls == ["a"]


async def test_key_order_and_whitespace_do_not_change_the_fingerprint(
    setup: tuple, random_key: str
) -> None:
    client, calls = setup
    headers = {"Idempotency-Key": random_key, "content-type": "application/json"}
    await client.post("/things", content=b'{"name":"a","x":1}', headers=headers)
    replay = await client.post("/things", content=b'{ "x": 1, "name": "a" }', headers=headers)
    assert replay.headers["idempotent-replayed"] == "true"
    assert calls == ["a"]


async def test_same_key_different_body_is_409(setup: tuple, random_key: str) -> None:
    client, calls = setup
    await client.post("/things", json={"name": "a"}, headers={"Idempotency-Key": random_key})
    clash = await client.post(
        "/things", json={"name": "b"}, headers={"Idempotency-Key": random_key}
    )
    assert clash.status_code == 409
    assert clash.json()["type"] == PROBLEM_BASE + "idempotency-key-reused"
    assert calls == ["a"]


async def test_keys_are_scoped_per_tenant(setup: tuple, random_key: str) -> None:
    client, calls = setup
    for tenant in (TENANT, OTHER_TENANT):
        response = await client.post(
            "/things",
            json={"name": "a"},
            headers={"Idempotency-Key": random_key, "X-Tenant": str(tenant)},
        )
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
    assert calls == ["a", "a"]


async def test_concurrent_duplicates_run_once_and_all_get_the_same_answer(
    setup: tuple, random_key: str
) -> None:
    client, calls = setup
    responses = await asyncio.gather(
        *[
            client.post("/things", json={"name": "a"}, headers={"Idempotency-Key": random_key})
            for _ in range(20)
        ]
    )
    assert calls == ["a"]
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 19


async def test_business_refusal_is_stored_and_replayed(setup: tuple, random_key: str) -> None:
    client, calls = setup
    body = {"name": "a", "refuse": True}
    first = await client.post("/things", json=body, headers={"Idempotency-Key": random_key})
    second = await client.post("/things", json=body, headers={"Idempotency-Key": random_key})
    assert first.status_code == second.status_code == 422
    assert second.headers["idempotent-replayed"] == "true"
    assert calls == ["a"]


async def test_server_failure_releases_the_key_so_a_retry_runs(
    setup: tuple, db: Database, random_key: str
) -> None:
    client, calls = setup
    body = {"name": "a", "crash": True}
    first = await client.post("/things", json=body, headers={"Idempotency-Key": random_key})
    second = await client.post("/things", json=body, headers={"Idempotency-Key": random_key})
    assert first.status_code == second.status_code == 503
    assert "idempotent-replayed" not in second.headers
    assert calls == ["a", "a"]
    async with db.uow() as uow:
        count = await uow.session.scalar(select(func.count()).select_from(IdempotencyKey))
    assert count == 0


async def test_money_operation_without_key_is_refused(setup: tuple) -> None:
    client, calls = setup
    response = await client.post("/things", json={"name": "a", "money": True})
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEM_BASE + "idempotency-key-required"
    assert calls == []


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "tab\there"])
async def test_malformed_key_is_refused(setup: tuple, key: str) -> None:
    client, calls = setup
    response = await client.post(
        "/things", json={"name": "a"}, headers={"Idempotency-Key": key.encode()}
    )
    assert response.status_code == 400
    assert calls == []


async def test_a_crashed_claim_can_be_taken_over_after_its_lock_expires(
    setup: tuple, db: Database, random_key: str
) -> None:
    client, calls = setup
    store = IdempotencyStore(db, keyring=await keyring_for(db))
    from fiscus.core.idempotency import Claim, request_fingerprint

    fingerprint = request_fingerprint(store.keyring, "POST", "/things", b'{"name":"a"}')
    claim = await store.begin(
        tenant_id=TENANT, key=random_key, method="POST", path="/things", fingerprint=fingerprint
    )
    assert isinstance(claim, Claim)  # and then the "process" dies without completing
    async with db.uow() as uow:
        await uow.session.execute(
            text("UPDATE idempotency_keys SET locked_until = now() - interval '1 second'")
        )
    response = await client.post(
        "/things", json={"name": "a"}, headers={"Idempotency-Key": random_key}
    )
    assert response.status_code == 201
    assert calls == ["a"]


async def test_expired_keys_are_purged_and_live_ones_kept(db: Database) -> None:
    store = IdempotencyStore(db, ttl_s=3600, keyring=await keyring_for(db))
    from fiscus.core.idempotency import request_fingerprint

    fingerprint = request_fingerprint(store.keyring, "POST", "/x", b"{}")
    with clock.frozen_clock(clock.now() - timedelta(hours=2)):
        await store.begin(
            tenant_id=TENANT, key="old", method="POST", path="/x", fingerprint=fingerprint
        )
    await store.begin(
        tenant_id=TENANT, key="new", method="POST", path="/x", fingerprint=fingerprint
    )
    assert await store.purge_expired() == 1
    async with db.uow() as uow:
        keys = (await uow.session.execute(select(IdempotencyKey.key))).scalars().all()
    assert keys == ["new"]
