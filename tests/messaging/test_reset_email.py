"""The password-reset email, end to end: request -> outbox -> worker -> SMTP -> new password.

The token reaches the mail and nothing else: not the outbox in clear, not the stored
message that admins can read.
"""

from __future__ import annotations

import httpx
from sqlalchemy import select

from fiscus.core.config import Settings
from fiscus.messaging._sealing import message_open
from fiscus.messaging.models import Message
from tests.factories import keyring_for
from tests.messaging.conftest import Inbox, worker_running
from tests.messaging.test_end_to_end import _eventually


async def test_reset_email_carries_a_working_token_that_is_stored_nowhere(
    app: object,
    client: httpx.AsyncClient,
    make_principal: object,
    settings: Settings,
    smtp: tuple[Inbox, int],
) -> None:
    db = app.state.db  # type: ignore[attr-defined]
    user = await make_principal(role="customer")  # type: ignore[operator]
    asked = await client.post(
        "/v1/auth/password-reset", json={"tenant": user.tenant_slug, "email": user.email}
    )
    assert asked.status_code == 202

    async with worker_running(db, settings):

        async def mailed() -> bool:
            return bool(smtp[0].messages)

        assert await _eventually(mailed)

    assert len(smtp[0].messages) == 1
    mail = smtp[0].messages[0]
    assert mail["To"] == user.email
    assert mail["Subject"] == "Reset your fiscus password"
    body = mail.get_body(preferencelist=("plain",)).get_content()
    token = next(word for word in body.split() if word.startswith("fsp_"))

    keyring = await keyring_for(db, settings)
    async with db.uow() as uow:
        rows = (await uow.session.execute(select(Message))).scalars().all()
    stored = [message_open(keyring, row).body for row in rows]
    assert stored
    assert all(token not in text for text in stored)
    assert any("[[fiscus-secret:reset_token]]" in text for text in stored)

    reset = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "brand new passphrase 7"},
    )
    assert reset.status_code == 204, reset.text
    login = await client.post(
        "/v1/auth/login",
        json={
            "tenant": user.tenant_slug,
            "email": user.email,
            "password": "brand new passphrase 7",
        },
    )
    assert login.status_code == 200
