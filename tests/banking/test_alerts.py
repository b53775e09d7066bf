"""Account alerts: a low balance fires when crossed (once), a large movement fires each
time, and the customer's portal users get a message through messaging; so does a
standing order that failed for good (the default template of its event)."""

from __future__ import annotations

import mailbox
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from fiscus.banking import service
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import Event, events_relay_batch
from fiscus.events.catalogue import AlertTriggeredPayload, StandingOrderPayload
from fiscus.messaging._directory import IdentityDirectory
from fiscus.messaging._recipients import install_directory
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.worker import install_event_subscribers
from tests.banking.factories import account, customer, ok, product
from tests.banking.test_portal_access import MakePrincipal, _link
from tests.conftest import make_settings
from tests.factories import Principal, keyring_for


@pytest.fixture
def settings(clean_database: str, tmp_path: Path) -> Settings:
    """Email goes to a Maildir in the test's folder (no SMTP host set)."""
    return make_settings(clean_database, data_dir=tmp_path)


@pytest.fixture
async def identity_directory(db: Database) -> AsyncIterator[None]:
    """Messaging reads users from identity, as in the worker."""
    install_directory(IdentityDirectory(db, await keyring_for(db, make_settings(None))))
    yield
    install_directory(None)


async def _pay(client: httpx.AsyncClient, who: Principal, source: str, target: str,
               amount: int) -> None:  # fmt: skip
    ok(
        await client.post(
            "/v1/transfers",
            json={"from_account_id": source, "to_account_id": target, "amount": amount,
                  "currency": "EUR"},
            headers={**who.headers, "Idempotency-Key": secrets.token_hex(8)},
        ),
        201,
    )  # fmt: skip


async def _fired(db: Database, tenant_id: object) -> list[dict[str, Any]]:
    async with db.uow(tenant_id=tenant_id) as uow:  # type: ignore[arg-type]
        rows = await uow.session.execute(
            select(Event.payload).where(Event.type == "banking.alert.triggered").order_by(Event.id)
        )
        return [dict(p) for p in rows.scalars()]


@pytest.mark.usefixtures("identity_directory")
async def test_alerts_fire_on_crossing_and_reach_the_customers_users(
    app: FastAPI,
    client: httpx.AsyncClient,
    db: Database,
    make_principal: MakePrincipal,
    tmp_path: Path,
) -> None:
    staff = await make_principal(role="owner")
    alice = await customer(client, staff)
    current = await product(client, staff)
    mine = await account(client, staff, customer_id=alice["id"], product_id=current["id"],
                         deposit=15_000)  # fmt: skip
    other = await account(client, staff, customer_id=alice["id"], product_id=current["id"])
    owner = await make_principal(role="customer", tenant_id=staff.tenant_id)
    viewer = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await _link(client, staff, alice["id"], owner, "owner")
    await _link(client, staff, alice["id"], viewer, "viewer")
    # A viewer may set alerts on accounts it sees (they only notify; they move nothing).
    low = ok(
        await client.post(
            "/v1/alerts",
            json={"account_id": mine["id"], "kind": "low_balance", "threshold": 10_000},
            headers=viewer.headers,
        ),
        201,
    )
    assert low["currency"] == "EUR" and low["last_triggered_at"] is None
    ok(
        await client.post(
            "/v1/alerts",
            json={"account_id": mine["id"], "kind": "large_transaction", "threshold": 4_000},
            headers=owner.headers,
        ),
        201,
    )
    await _pay(client, owner, mine["id"], other["id"], 3_000)  # 12,000: nothing fires
    assert await _fired(db, staff.tenant_id) == []
    await _pay(client, owner, mine["id"], other["id"], 3_000)  # 9,000: below 10,000
    await _pay(client, owner, mine["id"], other["id"], 1_000)  # still low: no second alert
    await _pay(client, owner, mine["id"], other["id"], 4_000)  # large: fires
    fired = await _fired(db, staff.tenant_id)
    assert [(p["kind"], p["amount"], p["balance"]) for p in fired] == [
        ("low_balance", -3_000, 9_000),
        ("large_transaction", -4_000, None),
    ]
    for payload in fired:
        AlertTriggeredPayload.model_validate(payload)
        assert sorted(payload["user_ids"]) == sorted([str(owner.user_id), str(viewer.user_id)])
    # A deposit back above the line and down again fires the low-balance alert again.
    ok(
        await client.post(
            f"/v1/accounts/{mine['id']}/deposits",
            json={"amount": 20_000, "currency": "EUR", "reference": "cash"},
            headers={**staff.headers, "Idempotency-Key": secrets.token_hex(8)},
        ),
        201,
    )
    await _pay(client, owner, mine["id"], other["id"], 15_000)
    assert [p["kind"] for p in await _fired(db, staff.tenant_id)] == [
        "low_balance", "large_transaction", "large_transaction", "low_balance",
        "large_transaction",
    ]  # fmt: skip
    # Messaging tells the linked users in-app (and by email, their default).
    install_event_subscribers()
    while await events_relay_batch(db, keyring=app.state.keyring):
        pass
    await messages_dispatch(db, settings=app.state.settings, keyring=app.state.keyring)
    inbox = ok(await client.get("/v1/me/messages", headers=owner.headers))["data"]
    subjects = [m["subject"] for m in inbox]
    assert subjects.count("Low balance") == 2 and subjects.count("Large transaction") == 3
    mails = [m for m in mailbox.Maildir(tmp_path / "mail", create=False) if m["To"] == owner.email]
    assert sum("Low balance on your account" in str(m["Subject"]) for m in mails) == 2
    listed = ok(await client.get("/v1/alerts", params={"account_id": mine["id"]},
                                 headers=owner.headers))["data"]  # fmt: skip
    assert all(a["last_triggered_at"] for a in listed)


async def test_alerts_are_scoped_to_the_callers_customers_and_tenant(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="owner")
    alice, bob = await customer(client, staff), await customer(client, staff)
    current = await product(client, staff)
    bobs = await account(client, staff, customer_id=bob["id"], product_id=current["id"])
    alices = await account(client, staff, customer_id=alice["id"], product_id=current["id"])
    owner = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await _link(client, staff, alice["id"], owner, "owner")
    other_bank = await make_principal(role="owner")
    body = {"account_id": bobs["id"], "kind": "low_balance", "threshold": 1}
    # Another customer's account, another tenant's: 404 as if it did not exist.
    for who in (owner, other_bank):
        refused = await client.post("/v1/alerts", json=body, headers=who.headers)
        assert refused.status_code == 404, refused.text
    staffs = ok(await client.post("/v1/alerts", json=body, headers=staff.headers), 201)
    assert ok(await client.get("/v1/alerts", headers=owner.headers))["data"] == []
    gone = await client.delete(f"/v1/alerts/{staffs['id']}", headers=owner.headers)
    assert gone.status_code == 404
    assert (await client.delete(f"/v1/alerts/{staffs['id']}", headers=other_bank.headers)
            ).status_code == 404  # fmt: skip
    # Bad input: a clear problem, nothing stored.
    for bad in (
        {**body, "account_id": alices["id"], "kind": "sometimes"},
        {**body, "account_id": alices["id"], "threshold": -1},
        {**body, "account_id": alices["id"], "threshold": "10"},
    ):
        response = await client.post("/v1/alerts", json=bad, headers=owner.headers)
        assert response.status_code == 400, response.text
        assert response.json()["type"].endswith("/validation-error")
    assert ok(await client.get("/v1/alerts", headers=owner.headers))["data"] == []
    # Ten per account at most.
    for threshold in range(10):
        ok(await client.post("/v1/alerts", json={**body, "account_id": alices["id"],
                                                 "threshold": threshold},
                             headers=owner.headers), 201)  # fmt: skip
    eleventh = await client.post(
        "/v1/alerts", json={**body, "account_id": alices["id"]}, headers=owner.headers
    )
    assert eleventh.json()["type"].endswith("/alert-limit-reached")
    ok(await client.delete(f"/v1/alerts/{staffs['id']}", headers=staff.headers), 204)


@pytest.mark.usefixtures("identity_directory")
async def test_a_failed_standing_order_queues_a_message_to_the_customer(
    app: FastAPI,
    client: httpx.AsyncClient,
    make_principal: MakePrincipal,
    db: Database,
    tmp_path: Path,
) -> None:
    staff = await make_principal(role="owner")
    alice, bob = await customer(client, staff), await customer(client, staff)
    current = await product(client, staff)
    payer = await account(client, staff, customer_id=alice["id"], product_id=current["id"],
                          deposit=100)  # fmt: skip
    payee = await account(client, staff, customer_id=bob["id"], product_id=current["id"])
    owner = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await _link(client, staff, alice["id"], owner, "owner")
    today = datetime.now(UTC).date().isoformat()
    ok(
        await client.post(
            "/v1/standing-orders",
            json={"from_account_id": payer["id"], "to_account_id": payee["id"], "amount": 5_000,
                  "currency": "EUR", "frequency": "monthly", "start_date": today,
                  "retry": {"attempts": 0, "every_minutes": 30}},
            headers=owner.headers,
        ),
        201,
    )  # fmt: skip
    report = await service.standing_orders_run(db, tenant_id=staff.tenant_id, on_date=None)
    assert report.failed == 1
    async with db.uow() as uow:
        [payload] = (
            await uow.session.execute(
                text("SELECT payload FROM events WHERE type = 'banking.standing_order.failed'")
            )
        ).scalars()
    assert StandingOrderPayload.model_validate(payload).user_ids == [str(owner.user_id)]
    install_event_subscribers()
    while await events_relay_batch(db, keyring=app.state.keyring):
        pass
    async with db.uow() as uow:
        queued = (
            await uow.session.execute(
                text("SELECT count(*) FROM messages WHERE user_id = :u"), {"u": owner.user_id}
            )
        ).scalar_one()
    assert queued >= 1, "the message is queued for the customer's portal user"
    await messages_dispatch(db, settings=app.state.settings, keyring=app.state.keyring)
    inbox = ok(await client.get("/v1/me/messages", headers=owner.headers))["data"]
    assert [m["subject"] for m in inbox].count("Standing order not paid") == 1
    mails = [m for m in mailbox.Maildir(tmp_path / "mail", create=False) if m["To"] == owner.email]
    assert sum("could not be paid" in str(m["Subject"]) for m in mails) == 1
