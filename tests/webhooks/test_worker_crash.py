"""A worker killed with SIGKILL mid-delivery loses nothing: a restarted one finishes the work."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import Event, emit
from fiscus.webhooks.models import WebhookDelivery
from tests.conftest import TEST_SECRET
from tests.webhooks.factories import admin_context, make_endpoint
from tests.webhooks.receiver import Receiver, Reply, running

pytestmark = pytest.mark.xdist_group("subprocess-worker")
ROOT = Path(__file__).resolve().parents[2]


def _start_worker(database_url: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "FISCUS_ENV": "test",
        "FISCUS_DATABASE_URL": database_url,
        "FISCUS_SECRET_KEY": TEST_SECRET,
        "FISCUS_WEBHOOKS_ALLOW_PRIVATE": "true",
        "FISCUS_LOG_LEVEL": "WARNING",
        "FISCUS_DATA_DIR": str(tmp_path),
    }
    log = (tmp_path / "worker.log").open("ab")
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "fiscus"), "worker", "--concurrency", "4"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def _emit_many(db: Database, tenant_id: object, count: int) -> None:
    for index in range(count):
        async with db.uow(tenant_id=tenant_id) as uow:  # type: ignore[arg-type]
            await emit(
                uow,
                tenant_id=tenant_id,  # type: ignore[arg-type]
                type="transfer.posted",
                subject=f"transfer/{index}",
                payload={"n": index},
            )


async def _wait_until(condition: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.2)
    return False


async def test_sigkilled_worker_loses_no_event_and_restart_delivers_all(
    db: Database, settings: Settings, clean_database: str, tmp_path: Path
) -> None:
    ctx = admin_context()
    slow = Reply(200, delay_s=1.0)
    with running(Receiver(default=slow)) as receiver:
        await make_endpoint(db, ctx, settings, receiver.url)
        await _emit_many(db, ctx.tenant_id, 10)
        worker = _start_worker(clean_database, tmp_path)
        try:

            async def mid_delivery() -> bool:
                return len(receiver.requests) >= 2

            assert await _wait_until(mid_delivery, 60), "the worker never started delivering"
            # Requests are in flight (the receiver takes a second to answer): kill now.
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            killed_after = len(receiver.requests)
            succeeded_at_kill = await _succeeded(db)
            await _emit_many(db, ctx.tenant_id, 10)  # committed while no worker runs
            receiver.default = Reply(200)
            worker = _start_worker(clean_database, tmp_path)

            async def all_delivered() -> bool:
                async with db.uow() as uow:
                    done = await uow.session.scalar(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(WebhookDelivery.status == "succeeded")
                    )
                return done == 20

            assert await _wait_until(all_delivered, 90), (tmp_path / "worker.log").read_text()
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
    assert killed_after < 20, "the kill happened before all work was done"
    # The kill landed mid-delivery: requests had reached the receiver whose outcome the
    # worker never recorded, and the restarted worker sent those deliveries again.
    assert succeeded_at_kill < killed_after, (succeeded_at_kill, killed_after)
    webhook_ids = [r.headers["webhook-id"] for r in receiver.requests]
    resent = {i for i in webhook_ids if webhook_ids.count(i) > 1}
    assert resent and resent <= set(webhook_ids[:killed_after]), resent
    delivered = {json.loads(r.body)["data"]["n"] for r in receiver.requests}
    assert len(receiver.requests) >= 20
    assert {json.loads(r.body)["id"] for r in receiver.requests} == {
        str(e) for e in await _event_ids(db)
    }
    assert delivered == set(range(10))
    async with db.uow() as uow:
        positions = list(
            (
                await uow.session.execute(
                    select(Event.position).where(Event.tenant_id == ctx.tenant_id)
                )
            ).scalars()
        )
    assert sorted(positions) == list(range(1, 21))  # type: ignore[type-var]


async def _succeeded(db: Database) -> int:
    async with db.uow() as uow:
        done = await uow.session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == "succeeded")
        )
    return int(done or 0)


async def _event_ids(db: Database) -> list[object]:
    async with db.uow() as uow:
        return list((await uow.session.execute(select(Event.id))).scalars())


async def test_worker_killed_at_random_moments_while_events_flow_loses_nothing(
    db: Database, settings: Settings, clean_database: str, tmp_path: Path
) -> None:
    import random

    ctx = admin_context()
    with running(Receiver(default=Reply(200, delay_s=0.05))) as receiver:
        await make_endpoint(db, ctx, settings, receiver.url)
        emitting = asyncio.create_task(_emit_many(db, ctx.tenant_id, 60))
        worker = _start_worker(clean_database, tmp_path)
        kills: list[tuple[int, int]] = []  # (requests received, deliveries succeeded)
        try:
            for _ in range(3):
                # Once this worker is delivering, at a random moment of its work.
                started_with = len(receiver.requests)

                async def delivering(started_with: int = started_with) -> bool:
                    return len(receiver.requests) > started_with or await _succeeded(db) == 60

                assert await _wait_until(delivering, 180), (kills, await _succeeded(db))
                await asyncio.sleep(random.uniform(0.0, 0.3))
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                kills.append((len(receiver.requests), await _succeeded(db)))
                worker = _start_worker(clean_database, tmp_path)
            await emitting

            async def all_delivered() -> bool:
                async with db.uow() as uow:
                    done = await uow.session.scalar(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(WebhookDelivery.status == "succeeded")
                    )
                return done == 60

            assert await _wait_until(all_delivered, 90), (tmp_path / "worker.log").read_text()
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
    # At least one kill landed mid-work: after deliveries began, with deliveries left to do.
    assert any(received > 0 and succeeded < 60 for received, succeeded in kills), kills
    received = {json.loads(r.body)["id"] for r in receiver.requests}
    assert received == {str(e) for e in await _event_ids(db) if e is not None} - {
        str(e) for e in await _non_transfer_event_ids(db)
    }
    async with db.uow() as uow:
        positions = sorted(
            (
                await uow.session.execute(
                    select(Event.position).where(Event.tenant_id == ctx.tenant_id)
                )
            ).scalars()
        )
    assert positions == list(range(1, len(positions) + 1)) and len(positions) >= 60


async def _non_transfer_event_ids(db: Database) -> list[object]:
    async with db.uow() as uow:
        rows = await uow.session.execute(select(Event.id).where(Event.type != "transfer.posted"))
        return list(rows.scalars())
