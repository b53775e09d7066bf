"""The outbox: atomic with the caller, numbered gap-free per tenant by the relay."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from fiscus.core.db import Database, libpq_url
from fiscus.core.errors import ValidationProblem
from fiscus.core.events import (
    NOTIFY_CHANNEL,
    check_type_patterns,
    emit,
    event_get,
    events_feed,
    events_relay_batch,
    type_matches,
)
from tests.factories import keyring_for


async def _emit(db: Database, tenant_id: uuid.UUID, type_: str = "transfer.posted") -> uuid.UUID:
    async with db.uow(tenant_id=tenant_id) as uow:
        return await emit(uow, tenant_id=tenant_id, type=type_, subject="transfer/1", payload={})


async def _relay_all(db: Database) -> int:
    keyring = await keyring_for(db)
    total = 0
    while batch := await events_relay_batch(db, keyring=keyring, limit=50):
        total += len(batch)
    return total


async def _emit_then_fail(db: Database, tenant: uuid.UUID, emitted: list[uuid.UUID]) -> None:
    async with db.uow(tenant_id=tenant) as uow:
        emitted.append(
            await emit(uow, tenant_id=tenant, type="transfer.posted", subject="t/1", payload={})
        )
        raise RuntimeError("the use case failed after emitting")


async def test_rolled_back_transaction_emits_nothing(db: Database) -> None:
    tenant = uuid.uuid4()
    emitted: list[uuid.UUID] = []
    with pytest.raises(RuntimeError):
        await _emit_then_fail(db, tenant, emitted)
    [event_id] = emitted
    assert await events_relay_batch(db, keyring=await keyring_for(db)) == []
    async with db.uow(tenant_id=tenant) as uow:
        assert await event_get(uow, tenant_id=tenant, event_id=event_id) is None


async def test_concurrent_emitters_get_gap_free_positions_per_tenant(db: Database) -> None:
    tenants = [uuid.uuid4(), uuid.uuid4()]
    # 120 transactions at once, interleaved with relay runs, across two tenants.
    emitted = asyncio.gather(*(_emit(db, tenants[i % 2]) for i in range(120)))
    keyring = await keyring_for(db)
    relays = asyncio.gather(*(events_relay_batch(db, keyring=keyring, limit=7) for _ in range(10)))
    ids, _ = await asyncio.gather(emitted, relays)
    await _relay_all(db)
    for tenant in tenants:
        async with db.uow(tenant_id=tenant) as uow:
            feed = await events_feed(uow, tenant_id=tenant, after=0, types=[], limit=1000)
        assert [e.position for e in feed] == list(range(1, 61))
        assert {e.id for e in feed} <= set(ids)
    assert await events_relay_batch(db, keyring=keyring) == [], "every event is relayed once"


async def test_feed_resumes_after_a_position_and_filters_by_wildcards(db: Database) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    for type_ in ("transfer.posted", "card.frozen", "transfer.voided", "transfer_fee.posted"):
        await _emit(db, tenant, type_)
    await _emit(db, other, "transfer.posted")
    await _relay_all(db)
    async with db.uow(tenant_id=tenant) as uow:
        transfers = await events_feed(
            uow, tenant_id=tenant, after=0, types=["transfer.*"], limit=10
        )
        assert [e.type for e in transfers] == ["transfer.posted", "transfer.voided"]
        later = await events_feed(uow, tenant_id=tenant, after=2, types=["*"], limit=10)
        assert [e.position for e in later] == [3, 4]
        exact = await events_feed(uow, tenant_id=tenant, after=0, types=["card.frozen"], limit=10)
        assert [e.type for e in exact] == ["card.frozen"]


async def test_row_level_security_hides_other_tenants_events(db: Database) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    event_id = await _emit(db, other)
    await _relay_all(db)
    async with db.uow(tenant_id=tenant) as uow:
        # Even a query for the other tenant's rows returns nothing to this tenant.
        assert await event_get(uow, tenant_id=other, event_id=event_id) is None


async def test_commit_notifies_listeners_and_rollback_does_not(
    db: Database, clean_database: str
) -> None:
    tenant = uuid.uuid4()
    async with await psycopg.AsyncConnection.connect(
        libpq_url(clean_database), autocommit=True
    ) as listener:
        await listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        with pytest.raises(RuntimeError):
            await _emit_then_fail(db, tenant, [])
        received = [n async for n in listener.notifies(timeout=0.5)]
        assert received == []
        await _emit(db, tenant)
        received = [n async for n in listener.notifies(timeout=5, stop_after=1)]
        assert [n.channel for n in received] == [NOTIFY_CHANNEL]


def test_type_patterns_accept_names_and_wildcards_only() -> None:
    assert check_type_patterns(["transfer.*", "*", "card.frozen"], field="t") == [
        "transfer.*",
        "*",
        "card.frozen",
    ]
    for bad in ("transfer", "transfer.**", "Transfer.posted", "*.posted", "a.b*", ""):
        with pytest.raises(ValidationProblem):
            check_type_patterns([bad], field="t")
    assert type_matches(["transfer.*"], "transfer.posted")
    assert not type_matches(["transfer.*"], "transfer_fee.posted")
    assert not type_matches(["transfer.posted"], "transfer.voided")
