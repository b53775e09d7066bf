"""A simulated year of close of business for the demo bank.

    PYTHONPATH=. .venv/bin/python bench/cob.py [--days 365]

Seeds the demo bank (`fiscus demo`: 50 customers, 80 accounts, ten weeks of history, the
savings product earning 3.5 % with fees) into a fresh database `fiscus_bench_cob`, then
runs `cob_run_through` for `--days` business dates, as `fiscus cob run --through` does,
and prints the wall time, the time per business date and each step's share. Uses
FISCUS_BENCH_DATABASE_URL or the server on 127.0.0.1:5432 (the test harness's helper
creates the database). Not a test: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import text

from fiscus.access.context import Context
from fiscus.banking.cob import service as cob
from fiscus.core.db import Database
from fiscus.core.keyring import KeyRing
from fiscus.core.migrate import upgrade
from fiscus.demo import demo_seed
from tests.conftest import make_settings, recreate_database

SERVER = os.environ.get(
    "FISCUS_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def main(days: int) -> None:
    url = recreate_database(SERVER, "fiscus_bench_cob")
    upgrade(url)
    db = Database(url, pool_size=4, max_overflow=0)
    try:
        keyring = KeyRing(make_settings(None).root_secrets)
        await keyring.load(db)
        started = time.monotonic()
        seeded = await demo_seed(db, keyring)
        print(f"demo seeded in {time.monotonic() - started:.1f} s: {seeded.accounts} accounts")
        async with db.uow() as uow:
            tenant_id = (
                await uow.session.execute(
                    text("SELECT id FROM tenants WHERE slug = :s"), {"s": seeded.tenant_slug}
                )
            ).scalar_one()
        ctx = Context.system(tenant_id, permissions=frozenset())
        first = await cob.business_date_get(db, ctx)
        spent: dict[str, float] = defaultdict(float)
        mark = [time.monotonic()]

        def on_step(name: str, _status: str, _count: int) -> None:
            now = time.monotonic()
            spent[name] += now - mark[0]
            mark[0] = now

        def on_day(_: object) -> None:
            mark[0] = time.monotonic()

        started = time.monotonic()
        runs = await cob.cob_run_through(
            db, ctx, through=first + timedelta(days=days - 1), on_day=on_day, on_step=on_step
        )
        wall = time.monotonic() - started
        failed = [r for r, _ in runs if r.status != "completed"]
        async with db.uow() as uow:
            counts = {
                table: (await uow.session.execute(text(f"SELECT count(*) FROM {table}"))).scalar()  # noqa: S608 (fixed table names)
                for table in ("banking_interest_accruals", "banking_interest_postings",
                              "banking_fees", "banking_cob_runs")
            }  # fmt: skip
        each = 1000 * wall / max(1, len(runs))
        print(f"{len(runs)} business dates from {first} in {wall:.1f} s ({each:.0f} ms each);")
        print(f"failed runs: {len(failed)}")
        for name, seconds in spent.items():
            print(f"  {name:<16} {seconds:7.1f} s  {100 * seconds / wall:5.1f} %")
        print("  rows:", counts)
    finally:
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=365)
    asyncio.run(main(parser.parse_args().days))
