"""Close of business: every step in order and recorded, the business date rolled; a run
that failed inside a step, or was killed between steps, resumes where it stopped without
doing anything twice; dormancy; the API, the CLI's date rules, and who may run it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from fiscus.banking.cob import service as cob
from fiscus.core import clock
from fiscus.core.context import Context
from fiscus.core.db import Database
from fiscus.worker import build_job_app
from tests.banking.factories import account, customer, ok, product
from tests.conftest import TEST_SECRET
from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]
ORDER = ["expire_holds", "standing_orders", "accrue_interest", "post_interest", "charge_fees",
         "mark_dormant", "roll_date"]  # fmt: skip


class Killed(BaseException):
    """The process dies mid-run (nothing in the run catches it)."""


async def _count(db: Database, sql: str, **params: Any) -> int:
    async with db.uow() as uow:
        return int((await uow.session.execute(text(sql), params)).scalar_one())


async def _bank(
    client: httpx.AsyncClient, make_principal: MakePrincipal, *, on: date | None = None
) -> dict[str, Any]:
    """A savings product with 3.65 % interest and a 3.00 monthly fee, one funded account."""
    staff = await make_principal(role="owner")
    if on is not None:
        ok(
            await client.post("/v1/banking/business-date",
                              json={"business_date": on.isoformat()}, headers=staff.headers)
        )  # fmt: skip
    today = ok(await client.get("/v1/banking/business-date", headers=staff.headers))
    made = await product(client, staff, name="Savings", type="savings")
    terms = {"interest": {}, "fees": {"monthly_maintenance": 300}}
    ok(await client.put(f"/v1/products/{made['id']}/terms", json=terms, headers=staff.headers))
    ok(
        await client.post(
            f"/v1/products/{made['id']}/interest-rates",
            json={"effective_from": today["business_date"], "rate": "0.0365"},
            headers=staff.headers,
        ),
        201,
    )
    holder = await customer(client, staff)
    saver = await account(
        client, staff, customer_id=holder["id"], product_id=made["id"], deposit=1_000_000
    )
    return {"staff": staff, "account": saver, "today": date.fromisoformat(today["business_date"])}


async def test_a_run_does_every_step_in_order_and_rolls_the_business_date(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _bank(client, make_principal)
    staff = w["staff"]
    run = ok(await client.post("/v1/cob/run", json={}, headers=staff.headers))
    assert run["status"] == "completed" and run["business_date"] == w["today"].isoformat()
    assert [s["step"] for s in run["steps"]] == ORDER
    assert all(s["status"] == "completed" and s["finished_at"] for s in run["steps"])
    counts = {s["step"]: s["count"] for s in run["steps"]}
    assert counts["accrue_interest"] == 1 and counts["roll_date"] == 1
    tomorrow = (w["today"] + timedelta(days=1)).isoformat()
    got = ok(await client.get("/v1/banking/business-date", headers=staff.headers))
    assert got["business_date"] == tomorrow
    # The closed date answers its run unchanged; the next date is a new run.
    again = ok(await client.post("/v1/cob/run", json={"date": run["business_date"]},
                                 headers=staff.headers))  # fmt: skip
    assert again == run
    assert ok(await client.get(f"/v1/cob/runs/{run['id']}", headers=staff.headers)) == run
    analyst = await make_principal(role="analyst", tenant_id=staff.tenant_id)
    assert (
        await client.get(f"/v1/cob/runs/{run['id']}", headers=analyst.headers)
    ).status_code == 200
    assert (await client.post("/v1/cob/run", json={}, headers=analyst.headers)).status_code == 403
    refused = await client.post("/v1/cob/run", json={"date": "2020-01-01"}, headers=staff.headers)
    assert refused.status_code == 422 and refused.json()["type"].endswith("/cob-date-invalid")


async def test_a_step_that_fails_is_resumed_and_nothing_is_done_twice(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    month_end = date(2027, 1, 31)
    w = await _bank(client, make_principal, on=month_end)
    staff, saver = w["staff"], w["account"]
    ctx = Context.system(staff.tenant_id, permissions=frozenset())
    charge = cob.STEPS["charge_fees"]

    async def charge_then_fail(step: cob.StepContext) -> int:
        await charge(step)
        raise RuntimeError("disk full")

    monkeypatch.setitem(cob.STEPS, "charge_fees", charge_then_fail)
    run, steps = await cob.cob_run(db, ctx)
    status = {s.step: s.status for s in steps}
    assert run.status == "failed" and "disk full" in (run.error or "")
    assert status["post_interest"] == "completed" and status["charge_fees"] == "failed"
    assert status["roll_date"] == "pending"
    monkeypatch.setitem(cob.STEPS, "charge_fees", charge)
    run, steps = await cob.cob_run(db, ctx)
    assert run.status == "completed" and [s.status for s in steps] == ["completed"] * 7
    of = {"a": saver["id"]}
    assert await _count(db, "SELECT count(*) FROM banking_fees WHERE account_id = :a", **of) == 1
    assert (
        await _count(
            db, "SELECT count(*) FROM banking_interest_postings WHERE account_id = :a", **of
        )
        == 1
    )
    assert (
        await _count(
            db, "SELECT count(*) FROM banking_interest_accruals WHERE account_id = :a", **of
        )
        == 1
    )
    # 10,000.00 at 3.65 % for one day is 1.00; the fee is 3.00.
    got = ok(await client.get(f"/v1/accounts/{saver['id']}/balance", headers=staff.headers))
    assert got["balance"] == 1_000_000 + 100 - 300
    assert await cob.business_date_get(db, ctx) == month_end + timedelta(days=1)


async def test_a_run_killed_between_steps_resumes_at_the_step_it_was_in(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    w = await _bank(client, make_principal, on=date(2027, 3, 31))
    staff = w["staff"]
    ctx = Context.system(staff.tenant_id, permissions=frozenset())
    post = cob.STEPS["post_interest"]

    async def post_then_die(step: cob.StepContext) -> int:
        await post(step)
        raise Killed

    monkeypatch.setitem(cob.STEPS, "post_interest", post_then_die)
    with pytest.raises(Killed):
        await cob.cob_run(db, ctx)
    status = await _count(
        db, "SELECT count(*) FROM banking_cob_steps WHERE tenant_id = :t AND status = 'running'",
        t=staff.tenant_id,
    )  # fmt: skip
    assert status == 1
    monkeypatch.setitem(cob.STEPS, "post_interest", post)
    run, steps = await cob.cob_run(db, ctx, day=date(2027, 3, 31))
    assert run.status == "completed"
    assert {s.step: s.count for s in steps}["post_interest"] == 0  # posted before the kill
    assert await _count(
        db, "SELECT count(*) FROM banking_interest_postings WHERE tenant_id = :t",
        t=staff.tenant_id,
    ) == 1  # fmt: skip
    assert await _count(
        db, "SELECT count(*) FROM events WHERE tenant_id = :t AND type = 'banking.cob.finished'",
        t=staff.tenant_id,
    ) == 1  # fmt: skip


async def test_an_account_without_customer_transactions_becomes_dormant(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await _bank(client, make_principal)
    staff, saver = w["staff"], w["account"]
    too_short = await client.put("/v1/cob/settings", json={"dormancy_days": 10},
                                 headers=staff.headers)  # fmt: skip
    assert too_short.status_code == 400
    ok(await client.put("/v1/cob/settings", json={"dormancy_days": 30}, headers=staff.headers))
    assert ok(await client.get("/v1/cob/settings", headers=staff.headers)) == {"dormancy_days": 30}
    run = ok(await client.post("/v1/cob/run", json={}, headers=staff.headers))
    assert {s["step"]: s["count"] for s in run["steps"]}["mark_dormant"] == 0
    later = clock.now().date() + timedelta(days=31)
    ok(await client.post("/v1/banking/business-date", json={"business_date": later.isoformat()},
                         headers=staff.headers))  # fmt: skip
    run = ok(await client.post("/v1/cob/run", json={}, headers=staff.headers))
    assert {s["step"]: s["count"] for s in run["steps"]}["mark_dormant"] == 1
    got = ok(await client.get(f"/v1/accounts/{saver['id']}", headers=staff.headers))
    assert got["status"] == "dormant"
    assert await _count(
        db, "SELECT count(*) FROM events WHERE tenant_id = :t AND type = 'banking.account.dormant'",
        t=staff.tenant_id,
    ) == 1  # fmt: skip


async def test_cob_through_a_date_closes_each_business_date_in_turn(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    w = await _bank(client, make_principal, on=date(2027, 2, 26))
    ctx = Context.system(w["staff"].tenant_id, permissions=frozenset())
    runs = await cob.cob_run_through(db, ctx, through=date(2027, 3, 1))
    assert [r.business_date for r, _ in runs] == [date(2027, 2, 26) + timedelta(days=n)
                                                 for n in range(4)]  # fmt: skip
    assert all(r.status == "completed" for r, _ in runs)
    # February's interest (3 days: 26, 27, 28) posted on the 28th: 3.00; the fee 3.00.
    got = ok(await client.get(f"/v1/accounts/{w['account']['id']}/interest",
                              headers=w["staff"].headers))  # fmt: skip
    assert got["last_posting"]["period_end"] == "2027-02-28"
    assert got["last_posting"]["credit_gross"] == 300
    assert got["accrued_through"] == "2027-03-01"


async def test_a_long_run_answers_202_and_carries_on(
    client: httpx.AsyncClient, make_principal: MakePrincipal, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await _bank(client, make_principal)
    staff = w["staff"]
    orders = cob.STEPS["standing_orders"]

    async def slow_orders(step: cob.StepContext) -> int:
        await asyncio.sleep(1.0)
        return await orders(step)

    monkeypatch.setitem(cob.STEPS, "standing_orders", slow_orders)
    monkeypatch.setattr(cob, "WAIT_S", 0.2)
    started = await client.post("/v1/cob/run", json={}, headers=staff.headers)
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "running"
    path = f"/v1/cob/runs/{started.json()['id']}"
    for _ in range(1200):  # up to two minutes: a loaded CI machine runs the steps slowly
        run = ok(await client.get(path, headers=staff.headers))
        if run["status"] != "running":
            break
        await asyncio.sleep(0.1)
    assert run["status"] == "completed"
    assert [s["status"] for s in run["steps"]] == ["completed"] * 7


def test_the_close_of_business_is_a_daily_task_of_the_worker() -> None:
    app = build_job_app("postgresql://unused@127.0.0.1/unused")
    assert "banking.cob:banking.cob_run" in app.tasks
    periodic = {p.periodic_id: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert periodic["banking-cob-run"] == "55 23 * * *"


async def test_the_command_closes_business_dates_through_a_date(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database, clean_database: str
) -> None:
    w = await _bank(client, make_principal, on=date(2027, 5, 30))
    slug = w["staff"].tenant_slug
    done = await asyncio.to_thread(
        _fiscus, clean_database, "cob", "run", "--tenant", slug, "--through", "2027-05-31"
    )
    assert done.returncode == 0, done.stderr
    assert "2 business date(s) run." in done.stdout
    ctx = Context.system(w["staff"].tenant_id, permissions=frozenset())
    assert await cob.business_date_get(db, ctx) == date(2027, 6, 1)
    both = await asyncio.to_thread(
        _fiscus, clean_database, "cob", "run", "--tenant", slug, "--date", "2027-06-01",
        "--through", "2027-06-02",
    )  # fmt: skip
    assert both.returncode == 2 and "not both" in both.stderr


def _fiscus(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FISCUS_DATABASE_URL": database_url, "FISCUS_SECRET_KEY": TEST_SECRET,
           "FISCUS_ENV": "test"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "fiscus.cli", *args],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
