"""Standing orders and scheduled transfers: the business date, the schedule's edge cases
as paid by the job, exactly-once execution (reruns, concurrent runs, a crash mid-run),
retries then failure, pause/resume/cancel, and who may do what."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from fiscus.banking import service
from fiscus.core import clock
from fiscus.core.context import Context
from fiscus.core.db import Database
from fiscus.ledger import queries as ledger_queries
from fiscus.worker import build_job_app
from tests.banking.factories import account, customer, ok, product
from tests.conftest import TEST_SECRET
from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]
TODAY = datetime.now(UTC).date()


async def _world(
    client: httpx.AsyncClient, make_principal: MakePrincipal, *, deposit: int = 1_000_000
) -> dict[str, Any]:
    staff = await make_principal(role="owner")
    alice, bob = await customer(client, staff), await customer(client, staff)
    current = await product(client, staff)
    payer = await account(
        client, staff, customer_id=alice["id"], product_id=current["id"], deposit=deposit
    )
    payee = await account(client, staff, customer_id=bob["id"], product_id=current["id"])
    return {
        "staff": staff,
        "alice": alice,
        "bob": bob,
        "product": current,
        "payer": payer,
        "payee": payee,
    }


def _body(w: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "from_account_id": w["payer"]["id"],
        "to_account_id": w["payee"]["id"],
        "amount": 1000,
        "currency": "EUR",
        "frequency": "monthly",
        "start_date": TODAY.isoformat(),
        **more,
    }


async def _order(client: httpx.AsyncClient, who: Principal, body: dict[str, Any]) -> Any:
    return ok(await client.post("/v1/standing-orders", json=body, headers=who.headers), 201)


async def _advance(client: httpx.AsyncClient, staff: Principal, day: date) -> None:
    got = ok(
        await client.post(
            "/v1/banking/business-date",
            json={"business_date": day.isoformat()},
            headers=staff.headers,
        )
    )
    assert got == {"business_date": day.isoformat()}


async def _run(db: Database, staff: Principal, on: date | None = None) -> service.RunReport:
    return await service.standing_orders_run(db, tenant_id=staff.tenant_id, on_date=on)


async def _paid_dates(client: httpx.AsyncClient, staff: Principal, order_id: str) -> list[str]:
    got = ok(await client.get(f"/v1/standing-orders/{order_id}/executions", headers=staff.headers))
    return sorted(e["due_date"] for e in got["data"] if e["status"] == "paid")


async def _balance(client: httpx.AsyncClient, who: Principal, account_id: str) -> int:
    got = ok(await client.get(f"/v1/accounts/{account_id}/balance", headers=who.headers))
    return int(got["balance"])


async def _balanced(db: Database, staff: Principal) -> bool:
    ctx = Context.system(staff.tenant_id, permissions=frozenset())
    return (await ledger_queries.trial_balance(db=db, ctx=ctx)).balanced


async def _count(db: Database, sql: str, **params: Any) -> int:
    async with db.uow() as uow:
        return int((await uow.session.execute(text(sql), params)).scalar_one())


# --- business date ----------------------------------------------------------------------


async def test_business_date_defaults_to_today_and_only_moves_forward(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="owner")
    analyst = await make_principal(role="analyst", tenant_id=staff.tenant_id)
    path = "/v1/banking/business-date"
    assert ok(await client.get(path, headers=staff.headers)) == {"business_date": TODAY.isoformat()}
    await _advance(client, staff, TODAY + timedelta(days=3))
    assert (
        ok(await client.get(path, headers=analyst.headers))["business_date"]
        == (TODAY + timedelta(days=3)).isoformat()
    )
    back = await client.post(path, json={"business_date": TODAY.isoformat()}, headers=staff.headers)
    assert back.status_code == 409
    assert back.json()["type"].endswith("/business-date-backwards")
    refused = await client.post(path, json={"business_date": "2099-01-01"}, headers=analyst.headers)
    assert refused.status_code == 403
    bad = await client.post(path, json={"business_date": "31.12.2027"}, headers=staff.headers)
    assert bad.status_code == 400
    other = await make_principal(role="owner")
    assert ok(await client.get(path, headers=other.headers))["business_date"] == TODAY.isoformat()


# --- the schedule as paid ---------------------------------------------------------------


async def test_the_31st_is_paid_on_each_months_last_day_across_a_year_and_a_leap_year(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    start = date(TODAY.year + 1, 1, 31)
    leap = next(y for y in range(TODAY.year + 1, TODAY.year + 6) if y % 4 == 0)
    on_31st = await _order(
        client,
        staff,
        _body(
            w, day=31, start_date=start.isoformat(), end_date=date(start.year, 12, 31).isoformat()
        ),
    )
    last = await _order(
        client,
        staff,
        _body(w, day="last", amount=7, start_date=date(leap, 1, 1).isoformat(), count=3),
    )
    yearly = await _order(
        client,
        staff,
        _body(w, frequency="yearly", amount=3, start_date=date(leap, 2, 29).isoformat(), count=2),
    )
    assert on_31st["next_due_date"] == start.isoformat() and last["day"] == "last"
    await _advance(client, staff, date(leap + 1, 12, 31))
    report = await _run(db, staff)
    assert report.paid == 12 + 3 + 2 and report.failed == 0
    y = start.year
    expected = [
        date(y, m, 31 if m in (1, 3, 5, 7, 8, 10, 12) else 30 if m != 2 else 28)
        for m in range(1, 13)
    ]
    if y % 4 == 0:
        expected[1] = date(y, 2, 29)
    assert await _paid_dates(client, staff, on_31st["id"]) == [d.isoformat() for d in expected]
    assert await _paid_dates(client, staff, last["id"]) == [
        f"{leap}-01-31",
        f"{leap}-02-29",
        f"{leap}-03-31",
    ]
    assert await _paid_dates(client, staff, yearly["id"]) == [f"{leap}-02-29", f"{leap + 1}-02-28"]
    for made, paid in ((on_31st, 12), (last, 3), (yearly, 2)):
        got = ok(await client.get(f"/v1/standing-orders/{made['id']}", headers=staff.headers))
        assert got["status"] == "completed" and got["next_due_date"] is None
        assert got["executed_count"] == paid
    assert await _balance(client, staff, w["payee"]["id"]) == 12 * 1000 + 3 * 7 + 2 * 3
    assert await _balanced(db, staff)


async def test_count_end_date_and_a_scheduled_transfer_stop_where_they_should(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    weekly = await _order(client, staff, _body(w, frequency="weekly", weekday=4, count=3))
    daily = await _order(
        client,
        staff,
        _body(w, frequency="daily", amount=10, end_date=(TODAY + timedelta(days=4)).isoformat()),
    )
    once = await _order(
        client,
        staff,
        _body(
            w,
            frequency="daily",
            amount=500,
            count=1,
            start_date=(TODAY + timedelta(days=2)).isoformat(),
        ),
    )
    await _run(db, staff)
    assert await _paid_dates(client, staff, daily["id"]) == [TODAY.isoformat()]
    assert await _paid_dates(client, staff, once["id"]) == []
    await _advance(client, staff, TODAY + timedelta(days=60))
    await _run(db, staff)
    friday = TODAY + timedelta(days=(4 - TODAY.weekday()) % 7)
    assert await _paid_dates(client, staff, weekly["id"]) == [
        (friday + timedelta(weeks=k)).isoformat() for k in range(3)
    ]
    assert len(await _paid_dates(client, staff, daily["id"])) == 5
    assert await _paid_dates(client, staff, once["id"]) == [(TODAY + timedelta(days=2)).isoformat()]
    assert await _balance(client, staff, w["payee"]["id"]) == 3 * 1000 + 5 * 10 + 500


# --- exactly once -----------------------------------------------------------------------


async def test_running_the_job_twice_or_concurrently_pays_each_occurrence_once(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    orders = [
        await _order(client, staff, _body(w, frequency="daily", amount=100 + k)) for k in range(4)
    ]
    await _advance(client, staff, TODAY + timedelta(days=2))
    first, second = await asyncio.gather(_run(db, staff), _run(db, staff))
    assert first.paid + second.paid == 4 * 3
    again = await _run(db, staff)
    assert again.paid == 0
    for made in orders:
        assert len(await _paid_dates(client, staff, made["id"])) == 3
    assert await _balance(client, staff, w["payee"]["id"]) == 3 * (100 + 101 + 102 + 103)
    transfers = await _count(
        db,
        "SELECT count(*) FROM banking_transfers WHERE tenant_id = :t AND idempotency_key"
        " LIKE 'standing-order:%'",
        t=staff.tenant_id,
    )
    assert transfers == 12
    assert await _balanced(db, staff)


async def test_a_run_killed_mid_way_and_started_again_pays_each_occurrence_once(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    orders = [await _order(client, staff, _body(w, frequency="daily", amount=10)) for _ in range(5)]
    await _advance(client, staff, TODAY + timedelta(days=1))
    done: list[uuid.UUID] = []

    def crash_after_two(order_id: uuid.UUID, _: str) -> None:
        done.append(order_id)
        if len(done) == 2:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError, match="worker killed"):
        await service.standing_orders_run(db, tenant_id=staff.tenant_id, on_order=crash_after_two)
    assert await _balance(client, staff, w["payee"]["id"]) == 2 * 2 * 10
    report = await _run(db, staff)
    assert report.paid == 3 * 2
    for made in orders:
        assert len(await _paid_dates(client, staff, made["id"])) == 2
    assert await _balance(client, staff, w["payee"]["id"]) == 5 * 2 * 10
    assert await _balanced(db, staff)


# --- refusals, retries and failure ------------------------------------------------------


async def test_short_of_funds_retries_then_fails_and_the_order_moves_on(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal, deposit=1500)
    staff = w["staff"]
    made = await _order(
        client,
        staff,
        _body(w, frequency="daily", amount=1000, retry={"attempts": 2, "every_minutes": 30}),
    )
    with clock.frozen_clock() as frozen:
        assert (await _run(db, staff)).paid == 1
        await _advance(client, staff, TODAY + timedelta(days=1))
        assert (await _run(db, staff)).retrying == 1
        assert (await _run(db, staff)).retrying == 0, "not before its retry time"
        frozen.advance(timedelta(minutes=31))
        assert (await _run(db, staff)).retrying == 1
        frozen.advance(timedelta(minutes=31))
        failed = await _run(db, staff)
    assert failed.failed == 1 and failed.paid == 0
    got = ok(
        await client.get(f"/v1/standing-orders/{made['id']}/executions", headers=staff.headers)
    )
    latest = got["data"][0]
    assert latest["status"] == "failed" and latest["attempts"] == 3
    assert latest["last_error"] == "insufficient-funds" and latest["transfer_id"] is None
    order = ok(await client.get(f"/v1/standing-orders/{made['id']}", headers=staff.headers))
    assert order["status"] == "active"
    assert order["next_due_date"] == (TODAY + timedelta(days=2)).isoformat()
    assert await _balance(client, staff, w["payer"]["id"]) == 500
    events = await _count(
        db,
        "SELECT count(*) FROM events WHERE tenant_id = :t AND type ="
        " 'banking.standing_order.failed'",
        t=staff.tenant_id,
    )
    assert events == 1


async def test_a_frozen_payer_fails_without_retries(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    made = await _order(client, staff, _body(w, frequency="daily"))
    ok(await client.post(f"/v1/accounts/{w['payer']['id']}/freeze", headers=staff.headers))
    report = await _run(db, staff)
    assert report.failed == 1
    got = ok(
        await client.get(f"/v1/standing-orders/{made['id']}/executions", headers=staff.headers)
    )
    assert got["data"][0]["last_error"] == "account-frozen"
    assert await _balance(client, staff, w["payee"]["id"]) == 0


# --- pause, resume, cancel, update ------------------------------------------------------


async def test_pause_skips_resume_continues_cancel_ends_and_each_is_audited(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    made = await _order(client, staff, _body(w, frequency="daily"))
    base = f"/v1/standing-orders/{made['id']}"
    assert ok(await client.post(base + "/pause", headers=staff.headers))["status"] == "paused"
    assert (await client.post(base + "/pause", headers=staff.headers)).status_code == 409
    await _advance(client, staff, TODAY + timedelta(days=2))
    assert (await _run(db, staff)).paid == 0
    resumed = ok(await client.post(base + "/resume", headers=staff.headers))
    assert resumed["status"] == "active"
    assert resumed["next_due_date"] == (TODAY + timedelta(days=2)).isoformat()
    assert (await _run(db, staff)).paid == 1
    patched = ok(
        await client.patch(base, json={"amount": 2500, "reference": "More"}, headers=staff.headers)
    )
    assert patched["amount"] == 2500 and patched["reference"] == "More"
    assert ok(await client.post(base + "/cancel", headers=staff.headers))["status"] == "cancelled"
    assert (await client.post(base + "/resume", headers=staff.headers)).status_code == 409
    assert (await client.patch(base, json={"amount": 1}, headers=staff.headers)).status_code == 409
    await _advance(client, staff, TODAY + timedelta(days=5))
    assert (await _run(db, staff)).paid == 0
    assert await _balance(client, staff, w["payee"]["id"]) == 1000
    actions = await _count(
        db,
        "SELECT count(DISTINCT action) FROM audit_events WHERE tenant_id = :t AND action IN"
        " ('banking.standing_order.created', 'banking.standing_order.paused',"
        " 'banking.standing_order.resumed', 'banking.standing_order.updated',"
        " 'banking.standing_order.cancelled', 'banking.standing_order.executed')",
        t=staff.tenant_id,
    )
    assert actions == 6


async def test_a_shorter_end_completes_the_order(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    made = await _order(client, staff, _body(w, frequency="daily", count=10))
    assert (await _run(db, staff)).paid == 1
    both = await client.patch(
        f"/v1/standing-orders/{made['id']}",
        json={"count": 2, "end_date": TODAY.isoformat()},
        headers=staff.headers,
    )
    assert both.status_code == 400 and both.json()["type"].endswith("/schedule-invalid")
    done = ok(
        await client.patch(
            f"/v1/standing-orders/{made['id']}", json={"count": 1}, headers=staff.headers
        )
    )
    assert done["status"] == "completed" and done["next_due_date"] is None


# --- bad input --------------------------------------------------------------------------


async def test_bad_orders_are_refused_with_precise_problems_and_nothing_stored(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        (_body(w, frequency="hourly"), 400, None),
        (_body(w, amount=0), 400, None),
        (_body(w, amount=1.5), 400, None),
        (_body(w, day=32), 400, None),
        (_body(w, frequency="daily", day=3), 400, "schedule-invalid"),
        (_body(w, frequency="monthly", weekday=2), 400, "schedule-invalid"),
        (_body(w, count=3, end_date="2099-01-01"), 400, "schedule-invalid"),
        (_body(w, end_date=(TODAY - timedelta(days=1)).isoformat()), 400, "schedule-invalid"),
        (
            _body(w, start_date=(TODAY - timedelta(days=1)).isoformat()),
            422,
            "standing-order-start-in-past",
        ),
        (_body(w, to_account_id=w["payer"]["id"]), 400, "transfer-same-account"),
        (_body(w, to_account_id=None, to_iban="DE00123"), 400, "iban-invalid"),
        (_body(w, to_account_id=str(uuid.uuid4())), 404, "bank-account-not-found"),
        (_body(w, currency="USD"), 422, "account-currency-mismatch"),
        (_body(w, retry={"attempts": 11}), 400, None),
        (_body(w, surprise=1), 400, None),
    ]
    for body, status, slug in cases:
        got = await client.post("/v1/standing-orders", json=body, headers=staff.headers)
        assert got.status_code == status, (body, got.text)
        assert got.headers["content-type"].startswith("application/problem+json")
        if slug is not None:
            assert got.json()["type"].endswith("/" + slug), got.text
    stored = await _count(
        db, "SELECT count(*) FROM banking_standing_orders WHERE tenant_id = :t", t=staff.tenant_id
    )
    assert stored == 0
    with pytest.raises(Exception, match="after the business date"):
        await _run(db, staff, TODAY + timedelta(days=1))
    made = await _order(client, staff, _body(w, count=5))
    path = f"/v1/standing-orders/{made['id']}"
    for change in ({"amount": None}, {"amount": 0}, {"frequency": "daily"}, {"count": 0},
                   {"reference": ""}):  # fmt: skip
        got = await client.patch(path, json=change, headers=staff.headers)
        assert got.status_code == 400, (change, got.text)
        assert got.headers["content-type"].startswith("application/problem+json")
    assert ok(await client.get(path, headers=staff.headers)) == made
    unknown = await client.post(f"/v1/standing-orders/{uuid.uuid4()}/pause", headers=staff.headers)
    assert unknown.status_code == 404
    assert unknown.json()["type"].endswith("/standing-order-not-found")


# --- who may do what --------------------------------------------------------------------


async def _link(
    client: httpx.AsyncClient, staff: Principal, customer_id: str, user: Principal, role: str
) -> None:
    ok(
        await client.put(
            f"/v1/customers/{customer_id}/users/{user.user_id}",
            json={"role": role},
            headers=staff.headers,
        )
    )


async def test_portal_owners_manage_their_orders_viewers_read_and_others_see_nothing(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    owner = await make_principal(role="customer", tenant_id=staff.tenant_id)
    viewer = await make_principal(role="customer", tenant_id=staff.tenant_id)
    stranger = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await _link(client, staff, w["alice"]["id"], owner, "owner")
    await _link(client, staff, w["alice"]["id"], viewer, "viewer")
    await _link(client, staff, w["bob"]["id"], stranger, "owner")
    mine = await _order(client, owner, _body(w, to_account_id=None, to_iban=w["payee"]["iban"]))
    assert mine["to_account_id"] == w["payee"]["id"]
    base = f"/v1/standing-orders/{mine['id']}"
    assert ok(await client.get(base, headers=viewer.headers))["id"] == mine["id"]
    assert [
        o["id"] for o in ok(await client.get("/v1/standing-orders", headers=viewer.headers))["data"]
    ] == [mine["id"]]
    assert (await client.post(base + "/pause", headers=viewer.headers)).status_code == 403
    assert (
        await client.post("/v1/standing-orders", json=_body(w), headers=viewer.headers)
    ).status_code == 403
    assert (await client.get(base, headers=stranger.headers)).status_code == 404
    assert (await client.post(base + "/cancel", headers=stranger.headers)).status_code == 404
    assert ok(await client.get("/v1/standing-orders", headers=stranger.headers))["data"] == []
    stolen = await client.post("/v1/standing-orders", json=_body(w), headers=stranger.headers)
    assert stolen.status_code == 404
    assert (await client.get("/v1/banking/business-date", headers=owner.headers)).status_code == 403
    assert ok(await client.post(base + "/pause", headers=owner.headers))["status"] == "paused"


async def test_another_tenants_orders_are_not_found_and_analysts_only_read(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    made = await _order(client, w["staff"], _body(w))
    base = f"/v1/standing-orders/{made['id']}"
    outsider = await make_principal(role="owner")
    assert (await client.get(base, headers=outsider.headers)).status_code == 404
    assert (await client.post(base + "/cancel", headers=outsider.headers)).status_code == 404
    assert (
        await client.patch(base, json={"amount": 5}, headers=outsider.headers)
    ).status_code == 404
    assert (await client.get(base + "/executions", headers=outsider.headers)).status_code == 404
    analyst = await make_principal(role="analyst", tenant_id=w["staff"].tenant_id)
    assert ok(await client.get(base, headers=analyst.headers))["status"] == "active"
    assert (await client.post(base + "/cancel", headers=analyst.headers)).status_code == 403
    operator = await make_principal(role="operator", tenant_id=w["staff"].tenant_id)
    assert (
        ok(await client.post(base + "/cancel", headers=operator.headers))["status"] == "cancelled"
    )
    keyed = {**w["staff"].headers, "Idempotency-Key": secrets.token_hex(8)}
    first = await client.post("/v1/standing-orders", json=_body(w), headers=keyed)
    again = await client.post("/v1/standing-orders", json=_body(w), headers=keyed)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]


# --- the command and the periodic job ---------------------------------------------------


async def test_the_command_pays_what_is_due_once_and_refuses_a_date_past_the_business_date(
    client: httpx.AsyncClient, clean_database: str, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    await _order(client, staff, _body(w, frequency="daily", amount=250))
    outputs = []
    for _ in range(2):
        done = await asyncio.to_thread(
            _fiscus, clean_database, "banking", "run-orders", "--tenant", staff.tenant_slug
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert "1 paid" in outputs[0] and "0 paid" in outputs[1]
    assert await _balance(client, staff, w["payee"]["id"]) == 250
    later = (TODAY + timedelta(days=1)).isoformat()
    refused = await asyncio.to_thread(
        _fiscus, clean_database, "banking", "run-orders", "--tenant", staff.tenant_slug,
        "--date", later,
    )  # fmt: skip
    assert refused.returncode == 1 and "business date" in refused.stderr


def _fiscus(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FISCUS_DATABASE_URL": database_url, "FISCUS_SECRET_KEY": TEST_SECRET,
           "FISCUS_ENV": "test"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "fiscus.cli", *args],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_the_job_is_a_periodic_task_of_the_worker() -> None:
    app = build_job_app("postgresql://unused@127.0.0.1/unused")
    assert "banking:banking.standing_orders_run" in app.tasks
    periodic = {p.periodic_id: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert periodic["standing-orders-run"] == "*/5 * * * *"


async def test_a_transfer_with_execute_on_is_scheduled_and_paid_on_that_date(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff = w["staff"]
    later = TODAY + timedelta(days=3)
    body = {"from_account_id": w["payer"]["id"], "to_iban": w["payee"]["iban"], "amount": 4200,
            "currency": "EUR", "reference": "Later", "execute_on": later.isoformat()}  # fmt: skip
    keyed = {**staff.headers, "Idempotency-Key": secrets.token_hex(8)}
    first = await client.post("/v1/transfers", json=body, headers=keyed)
    assert first.status_code == 202, first.text
    scheduled = first.json()
    assert scheduled["count"] == 1 and scheduled["next_due_date"] == later.isoformat()
    assert scheduled["to_account_id"] == w["payee"]["id"]
    again = await client.post("/v1/transfers", json=body, headers=keyed)
    assert again.status_code == 202 and again.json()["id"] == scheduled["id"]
    past = {**body, "execute_on": (TODAY - timedelta(days=1)).isoformat()}
    refused = await client.post(
        "/v1/transfers", json=past, headers={**staff.headers, "Idempotency-Key": "past-1"}
    )
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/standing-order-start-in-past")
    unkeyed = await client.post("/v1/transfers", json=body, headers=staff.headers)
    assert unkeyed.status_code == 400
    assert (await _run(db, staff)).paid == 0
    await _advance(client, staff, later)
    assert (await _run(db, staff)).paid == 1
    assert await _balance(client, staff, w["payee"]["id"]) == 4200
    done = ok(await client.get(f"/v1/standing-orders/{scheduled['id']}", headers=staff.headers))
    assert done["status"] == "completed"
