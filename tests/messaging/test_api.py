"""The messaging HTTP API: inbox and read receipts, preferences, templates, admin view."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from fiscus.core.db import Database
from fiscus.messaging._directory import IdentityDirectory
from fiscus.messaging._recipients import install_directory
from fiscus.messaging.dispatch import messages_dispatch
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
