"""Changing your email: the same answer whether or not the address is in use, a token
mailed to the new address, the change on confirmation (issue 10 item 10)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from fiscus.core import clock
from fiscus.identity.models import EmailChange
from fiscus.identity.service import (
    EMAIL_CHANGE_EVENT,
    EMAIL_REQUESTED_EVENT,
    email_change_token_unseal,
)
from tests.factories import PASSWORD
from tests.identity.test_tenant_accounts import events_of


def _comparable(response: Any) -> tuple[int, str, str]:
    return response.status_code, response.headers["content-type"], response.text


async def _pending(app: Any) -> int:
    async with app.state.db.uow() as uow:
        return int(
            (await uow.session.execute(select(func.count()).select_from(EmailChange))).scalar_one()
        )


async def test_the_answer_is_the_same_whether_or_not_the_address_is_taken(
    app, client, make_principal
) -> None:
    p = await make_principal()
    holder = await make_principal(role="analyst", tenant_id=p.tenant_id)
    fresh = f"fresh-{secrets.token_hex(4)}@example.com"
    taken = await client.post("/v1/me/email", json={"email": holder.email}, headers=p.headers)
    free = await client.post("/v1/me/email", json={"email": fresh}, headers=p.headers)
    assert _comparable(taken) == _comparable(free)
    assert taken.status_code == 202
    # The taken address got a notice (to its holder), and no pending change was made.
    [notice] = await events_of(app, p.tenant_id, EMAIL_REQUESTED_EVENT)
    assert notice.payload == {"user_id": str(holder.user_id), "tenant": p.tenant_slug}
    [asked] = await events_of(app, p.tenant_id, EMAIL_CHANGE_EVENT)
    assert asked.payload["user_id"] == str(p.user_id)
    assert fresh not in str(asked.payload) and "token" not in asked.payload
    assert await _pending(app) == 1
    # Nothing changed yet.
    assert (await client.get("/v1/me", headers=p.headers)).json()["email"] == p.email


async def _ask(app: Any, client: Any, p: Any, address: str) -> str:
    asked = await client.post("/v1/me/email", json={"email": address}, headers=p.headers)
    assert asked.status_code == 202
    event = (await events_of(app, p.tenant_id, EMAIL_CHANGE_EVENT))[-1]
    return email_change_token_unseal(app.state.keyring, event.payload)


async def test_confirming_changes_the_login_email_once(app, client, make_principal) -> None:
    p = await make_principal()
    address = f"new-{secrets.token_hex(4)}@example.com"
    token = await _ask(app, client, p, address.upper())
    assert token.startswith("fse_")
    done = await client.post("/v1/me/email/confirm", json={"token": token}, headers=p.headers)
    assert done.status_code == 204, done.text
    assert (await client.get("/v1/me", headers=p.headers)).json()["email"] == address
    again = await client.post("/v1/me/email/confirm", json={"token": token}, headers=p.headers)
    assert again.status_code == 401
    by_new = {"tenant": p.tenant_slug, "email": address, "password": PASSWORD}
    assert (await client.post("/v1/auth/login", json=by_new)).status_code == 200
    by_old = {**by_new, "email": p.email}
    assert (await client.post("/v1/auth/login", json=by_old)).status_code == 401


async def test_a_token_is_the_requesters_only_and_expires(app, client, make_principal) -> None:
    p = await make_principal()
    other = await make_principal(role="analyst", tenant_id=p.tenant_id)
    token = await _ask(app, client, p, f"a-{secrets.token_hex(4)}@example.com")
    stolen = await client.post("/v1/me/email/confirm", json={"token": token}, headers=other.headers)
    assert stolen.status_code == 401
    with clock.frozen_clock(clock.now() + timedelta(minutes=61)):
        late = await client.post("/v1/me/email/confirm", json={"token": token}, headers=p.headers)
    assert late.status_code == 401
    # A newer request ends the earlier one.
    first = await _ask(app, client, p, f"b-{secrets.token_hex(4)}@example.com")
    second = await _ask(app, client, p, f"c-{secrets.token_hex(4)}@example.com")
    ended = await client.post("/v1/me/email/confirm", json={"token": first}, headers=p.headers)
    assert ended.status_code == 401
    ok = await client.post("/v1/me/email/confirm", json={"token": second}, headers=p.headers)
    assert ok.status_code == 204


async def test_an_address_taken_before_confirmation_is_a_conflict(
    app, client, make_principal
) -> None:
    p = await make_principal()
    address = f"race-{secrets.token_hex(4)}@example.com"
    token = await _ask(app, client, p, address)
    added = await client.post(
        "/v1/users",
        headers=p.headers,
        json={"email": address, "role": "analyst", "password": "x" * 12},
    )
    assert added.status_code == 201
    late = await client.post("/v1/me/email/confirm", json={"token": token}, headers=p.headers)
    assert late.status_code == 409
    assert late.json()["type"].endswith("/email-in-use")
    assert (await client.get("/v1/me", headers=p.headers)).json()["email"] == p.email
