"""Spending insights: every movement gets a category as it posts (rules, customer rules
first, defaults), customers re-categorise and make rules, budgets alert once per threshold
and month, and the report sums by category and month against the previous period."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from fiscus.banking.insights import service as insights
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.events import Event, events_relay_batch
from fiscus.events.catalogue import BudgetThresholdPayload
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.worker import install_event_subscribers
from tests.banking.factories import account, customer, link, ok, product
from tests.banking.payment_factories import OUTSIDE_IBAN, bank, pay
from tests.banking.test_alerts import identity_directory, settings  # noqa: F401 (fixtures)
from tests.banking.test_portal_access import MakePrincipal
from tests.factories import Principal
from tests.live import fiscus_cli

PROBLEM = "https://fiscus.dev/problems/"


async def _world(client: httpx.AsyncClient, make_principal: MakePrincipal) -> dict[str, Any]:
    """Alice (a current and a savings account, an owner and a viewer) and Bob (a shop)."""
    staff = await make_principal(role="owner")
    alice, bob = await customer(client, staff), await customer(client, staff)
    current = await product(client, staff)
    mine = await account(client, staff, customer_id=alice["id"], product_id=current["id"],
                         deposit=100_000)  # fmt: skip
    savings = await account(client, staff, customer_id=alice["id"], product_id=current["id"])
    shop = await account(client, staff, customer_id=bob["id"], product_id=current["id"],
                         deposit=50_000)  # fmt: skip
    owner = await make_principal(role="customer", tenant_id=staff.tenant_id)
    viewer = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await link(client, staff, alice["id"], owner, "owner")
    await link(client, staff, alice["id"], viewer, "viewer")
    return {"staff": staff, "alice": alice, "bob": bob, "mine": mine, "savings": savings,
            "shop": shop, "owner": owner, "viewer": viewer}  # fmt: skip


async def _pay(client: httpx.AsyncClient, who: Principal, source: dict[str, Any],
               target: dict[str, Any], amount: int, reference: str) -> str:  # fmt: skip
    made = ok(
        await client.post(
            "/v1/transfers",
            json={"from_account_id": source["id"], "to_account_id": target["id"],
                  "amount": amount, "currency": "EUR", "reference": reference},
            headers={**who.headers, "Idempotency-Key": secrets.token_hex(8)},
        ),
        201,
    )  # fmt: skip
    return str(made["id"])


async def _deposit(client: httpx.AsyncClient, staff: Principal, target: dict[str, Any],
                   amount: int, reference: str) -> str:  # fmt: skip
    made = ok(
        await client.post(
            f"/v1/accounts/{target['id']}/deposits",
            json={"amount": amount, "currency": "EUR", "reference": reference},
            headers={**staff.headers, "Idempotency-Key": secrets.token_hex(8)},
        ),
        201,
    )
    return str(made["id"])


async def _rule(client: httpx.AsyncClient, who: Principal, status: int = 201,
                **body: Any) -> Any:  # fmt: skip
    return ok(await client.post("/v1/spending/rules", json=body, headers=who.headers), status)


async def _category(client: httpx.AsyncClient, who: Principal, account_id: str,
                    transfer_id: str) -> str:  # fmt: skip
    got = ok(
        await client.get(
            f"/v1/accounts/{account_id}/transactions/{transfer_id}/category", headers=who.headers
        )
    )
    return str(got["category"])


async def test_movements_get_their_category_as_they_post(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff, owner, mine, shop = w["staff"], w["owner"], w["mine"], w["shop"]
    await _rule(client, staff, category="groceries", reference_contains="SuperMart")
    await _rule(client, staff, category="entertainment", reference_contains="ticket",
                direction="out", amount_min=5_000, amount_max=6_000)  # fmt: skip
    # A pattern is plain text: "(a+)+$" matches only itself, and never backtracks.
    await _rule(client, staff, category="fees", reference_contains="(a+)+$")
    groceries = await _pay(client, owner, mine, shop, 1_234, "supermart weekly shop")
    assert await _category(client, owner, mine["id"], groceries) == "groceries"
    assert await _category(client, staff, shop["id"], groceries) == "groceries"
    ticket = await _pay(client, owner, mine, shop, 5_500, "Ticket")
    pricey = await _pay(client, owner, mine, shop, 7_000, "ticket")
    assert await _category(client, owner, mine["id"], ticket) == "entertainment"
    assert await _category(client, owner, mine["id"], pricey) == "other", "outside the range"
    # The incoming side of an `out` rule's movement is not matched by it: Bob's is income.
    assert await _category(client, staff, shop["id"], ticket) == "income"
    evil = await _pay(client, owner, mine, shop, 10, "a" * 60 + "!")
    literal = await _pay(client, owner, mine, shop, 10, "fee (a+)+$ here")
    assert await _category(client, owner, mine["id"], evil) == "other"
    assert await _category(client, owner, mine["id"], literal) == "fees"
    own = await _pay(client, owner, mine, w["savings"], 10_000, "put aside")
    assert await _category(client, owner, mine["id"], own) == "transfers"
    assert await _category(client, owner, w["savings"]["id"], own) == "transfers"
    cash = await _deposit(client, staff, mine, 3_000, "cash")
    got = ok(await client.get(f"/v1/accounts/{mine['id']}/transactions/{cash}/category",
                              headers=w["viewer"].headers))  # fmt: skip
    assert got == {"account_id": mine["id"], "transfer_id": cash, "amount": 3_000,
                   "currency": "EUR", "booked_on": clock.now().date().isoformat(),
                   "category": "income", "source": "default", "rule_id": None}  # fmt: skip
    # Bob's side is no business of Alice's portal users.
    hidden = await client.get(
        f"/v1/accounts/{shop['id']}/transactions/{groceries}/category", headers=owner.headers
    )
    assert hidden.status_code == 404
    assert hidden.json()["type"] == PROBLEM + "spending-transaction-not-found"


async def test_customers_re_categorise_and_their_rules_come_first(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff, owner, viewer, mine, shop = w["staff"], w["owner"], w["viewer"], w["mine"], w["shop"]
    await _rule(client, staff, category="groceries", reference_contains="SuperMart", priority=1)
    await _rule(client, owner, category="shopping", reference_contains="supermart",
                customer_id=w["alice"]["id"], priority=500)  # fmt: skip
    paid = await _pay(client, owner, mine, shop, 2_000, "SuperMart")
    assert await _category(client, owner, mine["id"], paid) == "shopping", "customer's first"
    assert await _category(client, staff, shop["id"], paid) == "groceries", "only Alice's"
    lunch = await _pay(client, owner, mine, shop, 1_500, "Lunch")
    assert await _category(client, owner, mine["id"], lunch) == "other"
    url = f"/v1/accounts/{mine['id']}/transactions/{lunch}/category"
    body = {"category": "eating_out", "make_rule": True}
    refused = await client.patch(url, json=body, headers=viewer.headers)
    assert refused.status_code == 404, "a viewer only reads"
    unknown = await client.patch(url, json={"category": "moon"}, headers=owner.headers)
    assert unknown.status_code == 400
    assert unknown.json()["type"] == PROBLEM + "spending-category-unknown"
    done = ok(await client.patch(url, json=body, headers=owner.headers))
    assert (done["category"], done["source"], done["rule_id"]) == ("eating_out", "manual", None)
    # The rule made from it: Bob's account, money out; it comes before "supermart" (priority 0).
    later = await _pay(client, owner, mine, shop, 900, "SuperMart again")
    assert await _category(client, owner, mine["id"], later) == "eating_out"
    rules = ok(await client.get("/v1/spending/rules", headers=owner.headers))["data"]
    assert [(r["category"], r["counterparty_account_id"]) for r in rules] == [
        ("shopping", None),
        ("eating_out", shop["id"]),
    ], "a portal user sees its customer's rules, not the tenant's"
    every = ok(await client.get("/v1/spending/rules", headers=staff.headers))["data"]
    assert len(every) == 3
    # A portal user sets rules only for a customer it owns; staff re-categorise anything.
    for bad in ({}, {"customer_id": w["bob"]["id"]}):
        made = await client.post(
            "/v1/spending/rules",
            json={"category": "groceries", "reference_contains": "x1", **bad},
            headers=owner.headers,
        )
        assert made.status_code == 404 and made.json()["type"] == PROBLEM + "customer-not-found"
    ok(await client.patch(f"/v1/accounts/{shop['id']}/transactions/{paid}/category",
                          json={"category": "income"}, headers=staff.headers))  # fmt: skip
    assert await _category(client, staff, shop["id"], paid) == "income"
    # Bad rules: no condition, a reversed range, an unknown category.
    empty = await _rule(client, staff, 400, category="groceries")
    assert empty["type"] == PROBLEM + "spending-rule-empty"
    reversed_ = await _rule(client, staff, 400, category="groceries", amount_min=5, amount_max=4)
    assert reversed_["errors"][0]["field"] == "amount_max"
    await _rule(client, staff, 400, category="nope", reference_contains="abc")
    # Deleting: the owner its customer's rule; the tenant's is staff's.
    tenant_rule = next(r for r in every if r["customer_id"] is None)
    gone = await client.delete(f"/v1/spending/rules/{tenant_rule['id']}", headers=owner.headers)
    assert gone.status_code == 404
    assert (
        await client.delete(f"/v1/spending/rules/{rules[0]['id']}", headers=owner.headers)
    ).status_code == 204


async def test_tenant_categories_add_to_the_built_in_ones(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff, owner = w["staff"], w["owner"]
    body = {"slug": "pets", "name": "Pets", "kind": "spending"}
    made = ok(await client.post("/v1/spending/categories", json=body, headers=staff.headers), 201)
    assert made == {**body, "built_in": False}
    again = await client.post("/v1/spending/categories", json=body, headers=staff.headers)
    assert again.status_code == 409
    built_in = {"slug": "groceries", "name": "Food"}
    assert (
        await client.post("/v1/spending/categories", json=built_in, headers=staff.headers)
    ).status_code == 409
    assert (
        await client.post("/v1/spending/categories", json=body, headers=owner.headers)
    ).status_code == 403
    listed = ok(await client.get("/v1/spending/categories", headers=owner.headers))["data"]
    assert [c["slug"] for c in listed if not c["built_in"]] == ["pets"]
    assert {"groceries", "transport", "housing", "income", "other"} <= {c["slug"] for c in listed}
    await _rule(client, staff, category="pets", reference_contains="vet")
    paid = await _pay(client, owner, w["mine"], w["shop"], 700, "Vet bill")
    assert await _category(client, owner, w["mine"]["id"], paid) == "pets"


async def _budget_events(db: Database, tenant_id: object) -> list[dict[str, Any]]:
    async with db.uow(tenant_id=tenant_id) as uow:  # type: ignore[arg-type]
        rows = await uow.session.execute(
            select(Event.payload)
            .where(Event.type == "banking.budget.threshold_crossed")
            .order_by(Event.id)
        )
        found = [dict(p) for p in rows.scalars()]
    return sorted(found, key=lambda p: (p["month"], p["threshold_percent"]))


@pytest.mark.usefixtures("identity_directory")
async def test_budgets_alert_once_per_threshold_and_month(
    app: FastAPI, client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff, owner, viewer, mine, shop = w["staff"], w["owner"], w["viewer"], w["mine"], w["shop"]
    await _rule(client, staff, category="groceries", reference_contains="SuperMart")
    body = {"customer_id": w["alice"]["id"], "category": "groceries", "amount": 10_000,
            "currency": "EUR"}  # fmt: skip
    budget = ok(await client.post("/v1/budgets", json=body, headers=owner.headers), 201)
    assert budget["spent_this_month"] == 0
    twice = await client.post("/v1/budgets", json=body, headers=owner.headers)
    assert twice.status_code == 409 and twice.json()["type"] == PROBLEM + "budget-exists"
    for who, customer_id in ((viewer, w["alice"]["id"]), (owner, w["bob"]["id"])):
        refused = await client.post(
            "/v1/budgets", json={**body, "customer_id": customer_id}, headers=who.headers
        )
        assert refused.status_code == 404, "a viewer reads; nobody sets another's budget"
    # Last month: one payment over the whole budget tells both thresholds of that month.
    today = clock.now().date()
    last_month = datetime.combine(today.replace(day=1) - timedelta(days=10), datetime.min.time(),
                                  tzinfo=UTC) + timedelta(hours=12)  # fmt: skip
    with clock.frozen_clock(last_month):
        await _pay(client, owner, mine, shop, 10_500, "SuperMart")
    before = last_month.strftime("%Y-%m")
    assert [(e["month"], e["threshold_percent"]) for e in await _budget_events(
        db, staff.tenant_id)] == [(before, 80), (before, 100)]  # fmt: skip
    # This month starts afresh: 79 % tells nothing, 81 % tells 80 %, 101 % tells 100 %.
    await _pay(client, owner, mine, shop, 7_900, "SuperMart")
    assert len(await _budget_events(db, staff.tenant_id)) == 2
    await _pay(client, owner, mine, shop, 200, "SuperMart")
    await _pay(client, owner, mine, shop, 2_000, "SuperMart")
    # A refund takes it under 100 % and a payment over again: nothing is told twice.
    await _pay(client, staff, shop, mine, 1_000, "SuperMart refund")
    listed = ok(await client.get("/v1/budgets", headers=viewer.headers))["data"]
    assert [b["spent_this_month"] for b in listed] == [9_100]
    await _pay(client, owner, mine, shop, 1_500, "SuperMart")
    now = today.strftime("%Y-%m")
    fired = await _budget_events(db, staff.tenant_id)
    assert [(e["month"], e["threshold_percent"], e["spent"]) for e in fired] == [
        (before, 80, 10_500), (before, 100, 10_500), (now, 80, 8_100), (now, 100, 10_100),
    ]  # fmt: skip
    for payload in fired:
        BudgetThresholdPayload.model_validate(payload)
        assert sorted(payload["user_ids"]) == sorted([str(owner.user_id), str(viewer.user_id)])
    got = ok(await client.get(f"/v1/budgets/{budget['id']}", headers=owner.headers))
    assert got["spent_this_month"] == 10_600
    # Raising the amount and lowering it again tells nothing new this month.
    url = f"/v1/budgets/{budget['id']}"
    assert (await client.patch(url, json={"amount": 1}, headers=viewer.headers)).status_code == 404
    ok(await client.patch(url, json={"amount": 50_000}, headers=owner.headers))
    ok(await client.patch(url, json={"amount": 9_000}, headers=owner.headers))
    assert len(await _budget_events(db, staff.tenant_id)) == 4
    # Messaging tells the customer's portal users in-app (and by email, their default).
    install_event_subscribers()
    while await events_relay_batch(db, keyring=app.state.keyring):
        pass
    await messages_dispatch(db, settings=app.state.settings, keyring=app.state.keyring)
    inbox = ok(await client.get("/v1/me/messages", headers=owner.headers))["data"]
    subjects = [m["subject"] for m in inbox]
    assert subjects.count("Budget 80% used") == 2 and subjects.count("Budget 100% used") == 2
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert ok(await client.get("/v1/budgets", headers=owner.headers))["data"] == []


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)


async def test_insights_sum_by_category_and_month_against_the_previous_period(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await _world(client, make_principal)
    staff, owner, mine, shop = w["staff"], w["owner"], w["mine"], w["shop"]
    await _rule(client, staff, category="groceries", reference_contains="SuperMart")
    await _rule(client, staff, category="health", reference_contains="pharmacy")
    with clock.frozen_clock(_at(date(2026, 10, 15))) as frozen:
        await _pay(client, owner, mine, shop, 4_000, "SuperMart")
        await _pay(client, owner, mine, shop, 1_000, "Pharmacy")
        frozen.current = _at(date(2026, 11, 3))
        await _pay(client, owner, mine, shop, 3_000, "SuperMart")
        frozen.current = _at(date(2026, 11, 5))
        await _deposit(client, staff, mine, 20_000, "Salary")
        frozen.current = _at(date(2026, 11, 10))
        await _pay(client, owner, mine, w["savings"], 10_000, "Savings")
        frozen.current = _at(date(2026, 11, 20))
        await _pay(client, owner, mine, shop, 2_000, "SuperMart")
        await _pay(client, staff, shop, mine, 500, "SuperMart refund")
        frozen.current = _at(date(2026, 12, 1))
        await _pay(client, owner, mine, shop, 999, "SuperMart")  # after the period
    url = f"/v1/accounts/{mine['id']}/insights"
    got = ok(await client.get(url, params={"from": "2026-11-01", "to": "2026-11-30"},
                              headers=w["viewer"].headers))  # fmt: skip
    assert got == {
        "account_id": mine["id"],
        "currency": "EUR",
        "from": "2026-11-01",
        "to": "2026-11-30",
        "previous_from": "2026-10-02",
        "previous_to": "2026-10-31",
        "income": 20_000,
        "spending": 4_500,
        "net": 15_500,
        "by_month": [
            {"month": "2026-11", "category": "groceries", "amount": 4_500},
            {"month": "2026-11", "category": "income", "amount": -20_000},
            {"month": "2026-11", "category": "transfers", "amount": 10_000},
        ],
        "categories": [
            {"category": "groceries", "amount": 4_500, "previous": 4_000,
             "change_percent": "12.50"},
            {"category": "health", "amount": 0, "previous": 1_000, "change_percent": "-100.00"},
            {"category": "income", "amount": -20_000, "previous": 0, "change_percent": None},
            {"category": "transfers", "amount": 10_000, "previous": 0, "change_percent": None},
        ],
    }  # fmt: skip
    # Two months: each month its own row.
    both = ok(await client.get(url, params={"from": "2026-10-01", "to": "2026-11-30"},
                               headers=owner.headers))  # fmt: skip
    assert [(m["month"], m["category"], m["amount"]) for m in both["by_month"]][:2] == [
        ("2026-10", "groceries", 4_000), ("2026-10", "health", 1_000),
    ]  # fmt: skip
    for params in ({"from": "2026-11-30", "to": "2026-11-01"},
                   {"from": "2025-01-01", "to": "2026-11-01"}):  # fmt: skip
        bad = await client.get(url, params=params, headers=owner.headers)
        assert bad.status_code == 400 and bad.json()["type"] == PROBLEM + "insights-period-invalid"
    theirs = await client.get(f"/v1/accounts/{shop['id']}/insights", headers=owner.headers)
    assert theirs.status_code == 404 and theirs.json()["type"] == PROBLEM + "bank-account-not-found"
    assert insights.change_percent(1, 3) == "-66.67"


async def test_the_backfill_categorises_what_posted_before(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal, clean_database: str
) -> None:
    w = await _world(client, make_principal)
    staff, owner, mine, shop = w["staff"], w["owner"], w["mine"], w["shop"]
    paid = await _pay(client, owner, mine, shop, 1_000, "SuperMart")
    await _pay(client, owner, mine, w["savings"], 1_000, "move")
    async with db.uow() as uow:  # the login role: as if these had posted before insights
        forgotten = (
            await uow.session.execute(text("DELETE FROM banking_categorised_movements"))
        ).rowcount  # type: ignore[attr-defined]
    assert forgotten == 6, "two deposits, two transfers of two sides each"
    await _rule(client, staff, category="groceries", reference_contains="supermart")
    assert await insights.movements_backfill(db, tenant_id=staff.tenant_id) == 6
    assert await _category(client, owner, mine["id"], paid) == "groceries"
    assert await insights.movements_backfill(db, tenant_id=staff.tenant_id) == 0, "idempotent"
    async with db.uow() as uow:
        await uow.session.execute(
            text("DELETE FROM banking_categorised_movements WHERE transfer_id = :t"), {"t": paid}
        )
    made = fiscus_cli("insights", "categorise", env={"FISCUS_DATABASE_URL": clean_database})
    assert made.returncode == 0, made.stderr
    assert "2 movements categorised" in made.stdout
    assert await _category(client, staff, shop["id"], paid) == "groceries"


async def test_payments_and_incoming_credits_are_categorised(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    w = await bank(client, make_principal)
    staff, owner, mine = w["staff"], w["owner"], w["mine"]
    await _rule(client, staff, category="housing", counterparty_name_contains="hopper",
                direction="out")  # fmt: skip
    await _rule(client, staff, category="groceries", reference_contains="supermart")
    rent = ok(await pay(client, owner, mine["id"]), 201)
    assert await _category(client, owner, mine["id"], rent["ledger_transfer_id"]) == "housing"
    # The customer's own rule on the creditor's IBAN comes first.
    await _rule(client, owner, category="utilities", counterparty_iban=OUTSIDE_IBAN,
                customer_id=w["alice"]["id"])  # fmt: skip
    power = ok(await pay(client, owner, mine["id"], amount=1_000), 201)
    assert await _category(client, owner, mine["id"], power["ledger_transfer_id"]) == "utilities"
    credit = {"bank_reference": "RAIL-1", "creditor_iban": mine["iban"], "amount": 700,
              "currency": "EUR", "remittance": "SuperMart refund 42"}  # fmt: skip
    booked = ok(await client.post("/v1/incoming-payments", json=credit, headers=staff.headers))
    [row] = booked["booked"]
    assert await _category(client, owner, mine["id"], row["id"]) == "groceries"
    # A rejected payment gives its money back, and its category nets to nothing.
    ok(await client.post(f"/v1/payments/{rent['id']}/reject", headers=staff.headers))
    report = ok(await client.get(f"/v1/accounts/{mine['id']}/insights", headers=owner.headers))
    by_category = {c["category"]: c["amount"] for c in report["categories"]}
    assert by_category["housing"] == 0 and by_category["utilities"] == 1_000
    assert by_category["groceries"] == -700 and report["spending"] == 300
