"""The relay's cost scales with batches, not events: statements counted on its engine.

N events that no webhook endpoint and no message rule matches are relayed with the same
statements whatever N is (one lock-and-number statement, one endpoint look-up per
batch), and no webhook or messaging job is deferred for them.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event, text

from fiscus.core.db import Database
from fiscus.core.events import emit, events_relay
from fiscus.events.jobs import relay_drain
from fiscus.messaging.jobs import DISPATCH_TASK as MESSAGING_DISPATCH
from fiscus.webhooks.jobs import DISPATCH_TASK as WEBHOOKS_DISPATCH
from fiscus.worker import build_job_app
from tests.conftest import make_settings
from tests.factories import keyring_for
from tests.webhooks.factories import admin_context, make_endpoint


async def _emit_transfers(db: Database, tenants: list[uuid.UUID], count: int) -> None:
    for i in range(count):
        tenant = tenants[i % len(tenants)]
        async with db.uow(tenant_id=tenant) as uow:
            # No holder in the legs: nobody to tell, so no message rule matches.
            await emit(uow, tenant_id=tenant, type="transfer.posted", subject="t/1", payload={})


class _Counter:
    def __init__(self, db: Database) -> None:
        self.statements: list[str] = []
        self._engine = db.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._count)

    def _count(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._count)


async def _jobs(db: Database, *tasks: str) -> int:
    async with db.uow() as uow:
        found = await uow.session.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = ANY(:tasks)"),
            {"tasks": list(tasks)},
        )
    return int(found or 0)


async def test_unmatched_events_cost_the_same_statements_for_20_or_400(
    db: Database, clean_database: str
) -> None:
    keyring = await keyring_for(db)
    job_app = build_job_app(clean_database)  # installs the webhooks and messaging fan-outs
    tenants = [uuid.uuid4(), uuid.uuid4(), uuid.uuid4()]
    costs: dict[int, list[str]] = {}
    async with job_app.open_async():
        for count in (20, 400):
            await _emit_transfers(db, tenants, count)
            counter = _Counter(db)
            try:
                relayed, drained = await relay_drain(job_app, db, keyring)
            finally:
                counter.close()
            assert (relayed, drained) == (count, True)
            costs[count] = counter.statements
    # One relay transaction each: the lock-and-number statement and the webhook endpoint
    # look-up (messaging resolves no recipient without a query); BEGIN/COMMIT frame it.
    assert len(costs[20]) == len(costs[400]) == 2, costs
    assert "events_relay_number" in costs[400][0]
    assert "webhook_endpoints" in costs[400][1]
    assert await _jobs(db, WEBHOOKS_DISPATCH, MESSAGING_DISPATCH) == 0


async def test_a_matching_endpoint_wakes_only_the_webhooks(
    db: Database, clean_database: str
) -> None:
    settings = make_settings(clean_database, webhooks_allow_private=True)
    ctx = admin_context()
    # Nothing is sent in this test: the address only has to pass the endpoint checks.
    await make_endpoint(db, ctx, settings, "http://127.0.0.1:9/in", ["transfer.*"])
    other = admin_context()
    await make_endpoint(db, other, settings, "http://127.0.0.1:9/in", ["card.*"])
    await _emit_transfers(db, [ctx.tenant_id, other.tenant_id], 4)
    build_job_app(db.url)  # installs the subscribers
    batch = await events_relay(db, keyring=await keyring_for(db))
    assert len(batch.events) == 4
    assert batch.wake_tasks() == [WEBHOOKS_DISPATCH]
    async with db.uow() as uow:
        deliveries = await uow.session.scalar(text("SELECT count(*) FROM webhook_deliveries"))
    assert deliveries == 2, "one per transfer of the tenant whose endpoint matches"
