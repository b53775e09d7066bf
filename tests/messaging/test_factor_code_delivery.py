"""Second-factor codes through the real paths (issue 15): the email code by SMTP to the
factor's address, the SMS code by the SMS console sink to the factor's number; each read
from what was delivered, used to enrol and to log in, and refused when replayed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.messaging._sealing import message_open
from fiscus.messaging.models import Message
from tests.factories import PASSWORD
from tests.messaging.conftest import Inbox, worker_running
from tests.messaging.test_end_to_end import _eventually

PHONE = "+4915187654321"


def _code(text: str) -> str:
    found = re.search(r"\b([0-9]{6})\b", text)
    assert found is not None, text
    return found.group(1)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def _sms_codes(path: Path, count: int) -> list[str]:
    async def arrived() -> bool:
        return len(await asyncio.to_thread(_lines, path)) >= count

    assert await _eventually(arrived), "the SMS did not reach the console sink"
    lines = await asyncio.to_thread(_lines, path)
    assert all(line.startswith(f"{PHONE}\t") for line in lines)
    return [_code(line) for line in lines]


async def _mail_codes(inbox: Inbox, count: int, address: str) -> list[str]:
    async def arrived() -> bool:
        return len(inbox.messages) >= count

    assert await _eventually(arrived), f"{len(inbox.messages)} of {count} mails"
    assert all(mail["To"] == address for mail in inbox.messages)
    return [_code(str(m.get_body(preferencelist=("plain",)).get_content())) for m in inbox.messages]


async def _login(client: httpx.AsyncClient, p: Any) -> dict[str, Any]:
    answer = await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_an_sms_code_reaches_the_number_and_logs_in_once(
    app: Any,
    client: httpx.AsyncClient,
    make_principal: Callable[..., Any],
    settings: Settings,
) -> None:
    sink = settings.data_dir / "sms.log"
    p = await make_principal(role="customer")
    async with worker_running(app.state.db, settings):
        started = await client.post(
            "/v1/me/mfa/factors", json={"kind": "sms", "address": PHONE}, headers=p.headers
        )
        assert started.status_code == 201, started.text
        [enrol_code] = await _sms_codes(sink, 1)
        confirmed = await client.post(
            f"/v1/me/mfa/factors/{started.json()['id']}/confirm",
            json={"code": enrol_code},
            headers=p.headers,
        )
        assert confirmed.status_code == 200, confirmed.text
        challenge = await _login(client, p)
        assert challenge["factors"] == ["sms"]
        with clock.frozen_clock(clock.now() + timedelta(seconds=31)):
            sent = await client.post(
                "/v1/auth/mfa/send", json={"mfa_token": challenge["mfa_token"], "factor": "sms"}
            )
            assert sent.status_code == 202, sent.text
        login_code = (await _sms_codes(sink, 2))[-1]
    step = {"mfa_token": challenge["mfa_token"], "code": login_code, "factor": "sms"}
    ok = await client.post("/v1/auth/mfa/verify", json=step)
    assert ok.status_code == 200, ok.text
    replay = await client.post(
        "/v1/auth/mfa/verify", json={**step, "mfa_token": (await _login(client, p))["mfa_token"]}
    )
    assert replay.status_code == 422
    # What messaging stored (and admins can read) never holds a code.
    async with app.state.db.uow() as uow:
        rows = (await uow.session.execute(select(Message))).scalars().all()
    stored = [message_open(app.state.keyring, row) for row in rows]
    assert stored and all(login_code not in f"{m.subject} {m.body}" for m in stored)


async def test_an_email_code_reaches_the_factor_address_by_smtp(
    app: Any,
    client: httpx.AsyncClient,
    make_principal: Callable[..., Any],
    settings: Settings,
    smtp: tuple[Inbox, int],
) -> None:
    inbox = smtp[0]
    p = await make_principal(role="customer")
    address = f"second-{p.user_id.hex[:8]}@example.com"
    async with worker_running(app.state.db, settings):
        started = await client.post(
            "/v1/me/mfa/factors", json={"kind": "email", "address": address}, headers=p.headers
        )
        assert started.status_code == 201, started.text
        [enrol_code] = await _mail_codes(inbox, 1, address)
        assert inbox.messages[0]["Subject"] == "Your fiscus security code"
        confirmed = await client.post(
            f"/v1/me/mfa/factors/{started.json()['id']}/confirm",
            json={"code": enrol_code},
            headers=p.headers,
        )
        assert confirmed.status_code == 200, confirmed.text
        challenge = await _login(client, p)
        with clock.frozen_clock(clock.now() + timedelta(seconds=31)):
            sent = await client.post(
                "/v1/auth/mfa/send", json={"mfa_token": challenge["mfa_token"], "factor": "email"}
            )
            assert sent.status_code == 202
        login_code = (await _mail_codes(inbox, 2, address))[-1]
    # No SMS was sent for an email factor (security messages go on every channel with a body).
    assert not (settings.data_dir / "sms.log").exists()
    step = {"mfa_token": challenge["mfa_token"], "code": login_code, "factor": "email"}
    ok = await client.post("/v1/auth/mfa/verify", json=step)
    assert ok.status_code == 200, ok.text
    again = await client.post("/v1/auth/mfa/verify", json=step)
    assert again.status_code == 401  # the challenge is spent
