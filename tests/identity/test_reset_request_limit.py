"""Password-reset requests are limited per account and per address, silently.

Found in review of issue 10 item 9: anyone could request resets for a victim again and
again; each request ended the previous token, so an attacker could keep cancelling the
victim's real reset link and flood their mailbox. Past the limit a request is answered
with the same 202, sends nothing and leaves the live token working.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select

from fiscus.core.events import Event
from fiscus.identity.service import RESET_EVENT, reset_token_unseal
from tests.factories import Principal


async def _reset_events(app: FastAPI) -> list[Event]:
    async with app.state.db.uow() as uow:
        rows = await uow.session.execute(
            select(Event).where(Event.type == RESET_EVENT).order_by(Event.id)
        )
        return list(rows.scalars().all())


async def _ask(client: AsyncClient, tenant: str, email: str) -> None:
    response = await client.post("/v1/auth/password-reset", json={"tenant": tenant, "email": email})
    assert response.status_code == 202, response.text
    assert response.content == b"" or response.json() == {"status": "accepted"}


async def _confirm(client: AsyncClient, token: str, password: str) -> int:
    response = await client.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": password}
    )
    return response.status_code


async def test_requests_past_the_account_limit_send_nothing_and_keep_the_live_token(
    app: FastAPI, client: AsyncClient, make_principal: Any
) -> None:
    limit = app.state.identity.config.password_reset_requests_per_account
    victim: Principal = await make_principal()
    for _ in range(limit):
        await _ask(client, victim.tenant_slug, victim.email)
    events = await _reset_events(app)
    assert len(events) == limit
    live = reset_token_unseal(app.state.keyring, events[-1].payload)
    # The attacker keeps asking: the same answer, no email, the victim's link still works.
    for _ in range(10):
        await _ask(client, victim.tenant_slug, victim.email)
        await _ask(client, victim.tenant_slug, victim.email.upper())
    assert len(await _reset_events(app)) == limit
    assert await _confirm(client, live, "victim's own new pass") == 204


async def test_the_address_limit_counts_over_every_tenant(
    app: FastAPI, client: AsyncClient, make_principal: Any
) -> None:
    config = app.state.identity.config
    config.password_reset_requests_per_account = 100  # only the address limit here
    config.password_reset_requests_per_address = 4
    first: Principal = await make_principal(email="shared@example.com")
    second: Principal = await make_principal(email="shared@example.com")
    assert first.tenant_id != second.tenant_id
    for _ in range(5):
        await _ask(client, first.tenant_slug, first.email)
        await _ask(client, second.tenant_slug, second.email)
    events = await _reset_events(app)
    assert len(events) == 4
    assert {e.tenant_id for e in events} == {first.tenant_id, second.tenant_id}
    # Each tenant's live token still works: nothing was superseded past the limit.
    for tenant_id in (first.tenant_id, second.tenant_id):
        latest = [e for e in events if e.tenant_id == tenant_id][-1]
        token = reset_token_unseal(app.state.keyring, latest.payload)
        assert await _confirm(client, token, "a fresh passphrase") == 204


async def test_throttled_and_unknown_accounts_get_the_same_answer(
    app: FastAPI, client: AsyncClient, make_principal: Any
) -> None:
    app.state.identity.config.password_reset_requests_per_account = 1
    known: Principal = await make_principal()
    answers = []
    for email in (known.email, known.email, "nobody@example.com"):
        response = await client.post(
            "/v1/auth/password-reset", json={"tenant": known.tenant_slug, "email": email}
        )
        answers.append((response.status_code, response.content))
    assert answers[0] == answers[1] == answers[2]
    async with app.state.db.uow() as uow:
        count = await uow.session.execute(
            select(func.count()).select_from(Event).where(Event.type == RESET_EVENT)
        )
        assert count.scalar_one() == 1
