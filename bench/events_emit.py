"""Emit throughput: relay-assigned positions versus a per-tenant counter locked at emit time.

    .venv/bin/python bench/events_emit.py [--writers 16] [--seconds 5]

Writers commit one event per transaction into one tenant (the ledger's shape: an event
per transfer). Variant "outbox" is fiscus's `emit()`; variant "counter" also bumps a
per-tenant counter row in the same transaction, which is what numbering at emit time
would need. Then the relay numbers everything. Uses FISCUS_BENCH_DATABASE_URL or the
server on 127.0.0.1:5432 (database `fiscus_bench_events`, recreated).

BENCH_NO_NOTIFY=1 disables the commit NOTIFY trigger (PostgreSQL serialises the commits
of notifying transactions, so this measures what the wake-up costs); BENCH_ASYNC_COMMIT=1
sets synchronous_commit=off to take the disk's fsync out of the figures.
Run with PYTHONPATH=. (it reuses the test harness's database helper).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
import uuid

from sqlalchemy import text

from fiscus.core.db import Database
from fiscus.core.events import emit, events_relay_batch
from fiscus.core.keyring import KeyRing
from fiscus.core.migrate import upgrade
from tests.conftest import recreate_database

VARIANTS = os.environ.get("BENCH_VARIANTS", "outbox,counter").split(",")
SERVER = os.environ.get(
    "FISCUS_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _writers(db: Database, *, writers: int, seconds: float, counter: bool) -> int:
    tenant = uuid.uuid4()
    if counter:
        async with db.uow() as uow:
            await uow.session.execute(
                text("INSERT INTO bench_counters VALUES (:t, 0)"), {"t": tenant}
            )
    deadline = time.monotonic() + seconds
    done = [0]

    async def writer() -> None:
        while time.monotonic() < deadline:
            async with db.uow(tenant_id=tenant) as uow:
                if counter:
                    await uow.session.execute(
                        text("UPDATE bench_counters SET n = n + 1 WHERE tenant_id = :t"),
                        {"t": tenant},
                    )
                await emit(uow, tenant_id=tenant, type="transfer.posted", subject="t/1", payload={})
            done[0] += 1

    await asyncio.gather(*(writer() for _ in range(writers)))
    return done[0]


async def main(writers: int, seconds: float) -> None:
    url = recreate_database(SERVER, "fiscus_bench_events")
    upgrade(url)
    if os.environ.get("BENCH_ASYNC_COMMIT"):
        # Takes the disk's fsync out of the figures, to see the CPU and locking ceiling.
        import psycopg

        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute("ALTER DATABASE fiscus_bench_events SET synchronous_commit = off")
    db = Database(url, pool_size=writers, max_overflow=4)
    async with db.uow() as uow:
        await uow.session.execute(
            text("CREATE TABLE bench_counters (tenant_id uuid PRIMARY KEY, n bigint)")
        )
        await uow.session.execute(text("GRANT ALL ON bench_counters TO fiscus_app"))
    if os.environ.get("BENCH_NO_NOTIFY"):
        async with db.uow() as uow:
            await uow.session.execute(text("ALTER TABLE events DISABLE TRIGGER events_notify"))
    for variant in VARIANTS:
        count = await _writers(db, writers=writers, seconds=seconds, counter=variant == "counter")
        print(f"{variant:8} {writers} writers: {count / seconds:8.0f} events/s")
    # A bench-only root secret: the relay's fan-outs seal what they store with the key ring.
    keyring = KeyRing([secrets.token_urlsafe(48)])
    await keyring.load(db)
    started = time.monotonic()
    relayed = 0
    while batch := await events_relay_batch(db, keyring=keyring):
        relayed += len(batch)
    elapsed = time.monotonic() - started
    print(f"relay    {relayed} events numbered in {elapsed:.2f} s: {relayed / elapsed:8.0f}/s")
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.writers, arguments.seconds))
