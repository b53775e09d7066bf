"""Password reset: emailed single-use token via the outbox, 30 minutes, never bypassing MFA."""

from __future__ import annotations

import json
from datetime import timedelta

import pyotp
from sqlalchemy import select

from fiscus.core import clock
from fiscus.core.events import Event
from fiscus.identity.service import RESET_EVENT, reset_token_unseal
from tests.identity.test_mfa import _enrol, _step_start


async def _request_token(app, client, p) -> str:
    response = await client.post(
        "/v1/auth/password-reset", json={"tenant": p.tenant_slug, "email": p.email}
    )
    assert response.status_code == 202
    async with app.state.db.uow() as uow:
        events = (
            (
                await uow.session.execute(
                    select(Event).where(Event.type == RESET_EVENT).order_by(Event.id)
                )
            )
            .scalars()
            .all()
        )
    payload = events[-1].payload
    # The outbox holds the token only sealed: the feed and webhooks never see it.
    assert "token" not in payload
    token = reset_token_unseal(app.state.keyring, payload)
    assert token not in json.dumps(payload)
    return token


async def test_reset_token_is_single_use_and_ends_sessions(app, client, make_principal) -> None:
    p = await make_principal()
    token = await _request_token(app, client, p)
    assert token.startswith("fsp_")
    weak = await client.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "password123"}
    )
    assert weak.status_code == 400
    done = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "reset passphrase 1"},
    )
    assert done.status_code == 204
    assert (await client.get("/v1/me", headers=p.headers)).status_code == 401
    again = await client.post(
        "/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "reset passphrase 2"},
    )
    assert again.status_code == 401
    login = await client.post(
        "/v1/auth/login",
        json={"tenant": p.tenant_slug, "email": p.email, "password": "reset passphrase 1"},
    )
    assert login.status_code == 200


async def test_unknown_accounts_get_the_same_answer_and_no_event(app, client, make_principal):
    p = await make_principal()
    response = await client.post(
        "/v1/auth/password-reset", json={"tenant": p.tenant_slug, "email": "ghost@example.com"}
    )
    assert response.status_code == 202
    async with app.state.db.uow() as uow:
        assert (
            await uow.session.execute(select(Event).where(Event.type == RESET_EVENT))
        ).first() is None


async def test_reset_token_expires_after_thirty_minutes(app, client, make_principal) -> None:
    p = await make_principal()
    token = await _request_token(app, client, p)
    with clock.frozen_clock(clock.now() + timedelta(minutes=31)):
        late = await client.post(
            "/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": "reset passphrase 1"},
        )
    assert late.status_code == 401


async def test_reset_never_bypasses_mfa(app, client, make_principal) -> None:
    p = await make_principal()
    with clock.frozen_clock(_step_start()) as frozen:
        secret, _ = await _enrol(client, p)
        token = await _request_token(app, client, p)
        without = await client.post(
            "/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": "reset passphrase 1"},
        )
        assert without.status_code == 422
        frozen.advance(timedelta(seconds=30))
        code = pyotp.TOTP(secret).at(clock.now())
        with_code = await client.post(
            "/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": "reset passphrase 1", "code": code},
        )
        assert with_code.status_code == 204
