"""The messaging HTTP API: inbox and read receipts, preferences, templates, admin view."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import time

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from fiscus.core.db import Database
from fiscus.core.events import events_relay_batch
from fiscus.messaging._directory import IdentityDirectory
from fiscus.messaging._recipients import install_directory
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.messaging.models import MessageProfile
from fiscus.worker import install_event_subscribers
from tests.conftest import make_settings
from tests.factories import Principal, keyring_for
from tests.messaging.test_messages import emit_relayed, transfer_payload

MakePrincipal = Callable[..., Awaitable[Principal]]


@pytest.fixture
async def identity_directory(db: Database) -> AsyncIterator[None]:
    """Messaging reads users from identity, as in the worker."""
    install_directory(IdentityDirectory(db, await keyring_for(db, make_settings(None))))
    yield
    install_directory(None)


@pytest.mark.usefixtures("identity_directory")
async def test_inbox_read_receipts_and_preferences_over_http(
    app: FastAPI, client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    admin = await make_principal(role="admin")
    holder = await make_principal(role="customer", tenant_id=admin.tenant_id)
    tenant, me = holder.tenant_id, holder.headers
    await emit_relayed(db, tenant, "transfer.posted", transfer_payload(holder.user_id))
    await messages_dispatch(db, settings=app.state.settings, keyring=app.state.keyring)

    inbox = (await client.get("/v1/me/messages", headers=me)).json()
    [message] = inbox["data"]
    assert message["subject"] == "Transfer posted" and message["read_at"] is None
    read = await client.post(f"/v1/me/messages/{message['id']}/read", headers=me)
    assert read.status_code == 200 and read.json()["read_at"].endswith("Z")
    unread = (await client.get("/v1/me/messages?unread=true", headers=me)).json()
    assert unread["data"] == []
    stranger = (await make_principal(role="customer", tenant_id=tenant)).headers
    assert (
        await client.post(f"/v1/me/messages/{message['id']}/read", headers=stranger)
    ).status_code == 404

    prefs = (await client.get("/v1/me/message-preferences", headers=me)).json()
    assert prefs == {
        "security": ["email", "sms", "in_app"],
        "transactions": ["email", "in_app"],
        "marketing": [],
    }
    changed = await client.put(
        "/v1/me/message-preferences",
        json={"category": "marketing", "channels": ["email"]},
        headers=me,
    )
    assert changed.json()["marketing"] == ["email"]
    refused = await client.put(
        "/v1/me/message-preferences", json={"category": "security", "channels": []}, headers=me
    )
    assert refused.status_code == 400

    log = (await client.get(f"/v1/messages?user_id={holder.user_id}", headers=admin.headers)).json()
    statuses = {m["channel"]: [h["status"] for h in m["history"]] for m in log["data"]}
    assert statuses == {"email": ["queued", "sent"], "in_app": ["queued", "delivered", "read"]}


async def test_templates_preview_and_refuse_missing_variables(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    admin = (await make_principal(role="admin")).headers
    preview = await client.post(
        "/v1/message-templates/preview",
        json={
            "event_type": "transfer.posted",
            "channel": "sms",
            "text": "{{ leg.amount | money(leg.currency) }}",
        },
        headers=admin,
    )
    assert preview.json() == {"subject": None, "text": "12.50 EUR", "html": None}
    missing = await client.put(
        "/v1/message-templates/transfer.posted/email",
        json={"subject": "Hi {{ user.first_name }}", "text": "x"},
        headers=admin,
    )
    assert missing.status_code == 400 and "undefined" in missing.json()["detail"]
    forged = await client.post("/v1/messaging/unsubscribe?token=abc.def")
    assert forged.status_code == 400


async def _relay_and_dispatch(app: FastAPI, db: Database) -> None:
    """Relay the committed events to messaging (real subscribers), then send."""
    install_event_subscribers()
    while await events_relay_batch(db, keyring=app.state.keyring):
        pass
    await messages_dispatch(db, settings=app.state.settings, keyring=app.state.keyring)


@pytest.mark.usefixtures("identity_directory")
async def test_announcement_reaches_every_member_in_app(
    app: FastAPI, client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    admin = await make_principal(role="admin")
    members = [await make_principal(role=r, tenant_id=admin.tenant_id) for r in ("customer",) * 2]
    outsider = await make_principal(role="customer")
    announced = await client.post(
        "/v1/announcements",
        json={"title": "Maintenance", "body": "Saturday 02:00 UTC."},
        headers=admin.headers,
    )
    assert announced.status_code == 202, announced.text
    await _relay_and_dispatch(app, db)
    for member in (admin, *members):
        inbox = (await client.get("/v1/me/messages", headers=member.headers)).json()["data"]
        assert [(m["subject"], m["body"]) for m in inbox] == [
            ("Maintenance", "Saturday 02:00 UTC.")
        ], inbox
    assert (await client.get("/v1/me/messages", headers=outsider.headers)).json()["data"] == []


@pytest.mark.usefixtures("identity_directory")
async def test_saved_template_is_used_for_the_next_message(
    app: FastAPI, client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    admin = await make_principal(role="admin")
    holder = await make_principal(role="customer", tenant_id=admin.tenant_id)
    saved = await client.put(
        "/v1/message-templates/transfer.posted/in_app",
        json={"subject": "Money moved", "text": "Moved {{ leg.amount | money(leg.currency) }}"},
        headers=admin.headers,
    )
    assert saved.status_code == 200, saved.text
    await emit_relayed(db, holder.tenant_id, "transfer.posted", transfer_payload(holder.user_id))
    await messages_dispatch(db, settings=app.state.settings, keyring=app.state.keyring)
    [message] = (await client.get("/v1/me/messages", headers=holder.headers)).json()["data"]
    assert (message["subject"], message["body"]) == ("Money moved", "Moved 12.50 EUR")


async def test_message_profile_is_stored_with_the_phone_sealed(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    user = await make_principal(role="customer")
    profile = {
        "phone": "+33612345678",
        "timezone": "Europe/Paris",
        "quiet_start": "22:00",
        "quiet_end": "07:00",
    }
    stored = await client.put("/v1/me/message-profile", json=profile, headers=user.headers)
    assert stored.status_code == 204, stored.text
    bad = await client.put(
        "/v1/me/message-profile", json={**profile, "timezone": "Mars/Olympus"}, headers=user.headers
    )
    assert bad.status_code == 400 and bad.json()["type"].endswith("/timezone-unknown")
    async with db.uow() as uow:
        [row] = (await uow.session.execute(select(MessageProfile))).scalars()
    assert (row.user_id, row.timezone) == (user.user_id, "Europe/Paris")
    assert (row.quiet_start, row.quiet_end) == (time(22, 0), time(7, 0))
    assert row.phone_sealed and b"33612345678" not in row.phone_sealed
