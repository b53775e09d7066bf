"""Password reset: emailed single-use token via the outbox, 30 minutes, never bypassing MFA."""

from __future__ import annotations

import json
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from fiscus.core import clock
from fiscus.core.events import Event
from fiscus.identity.service import RESET_EVENT, _reset, reset_token_unseal
from tests.factories import PASSWORD
from tests.identity.test_mfa import _enrol, _step_start
from tests.identity.test_throttling import wrong_code


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


NEW_PASSWORD = "reset pass 1"


async def _confirm(client, token: str, code: str | None = None, password: str = NEW_PASSWORD):
    body = {"token": token, "new_password": password}
    if code is not None:
        body["code"] = code
    return await client.post("/v1/auth/password-reset/confirm", json=body)


async def test_a_new_or_used_token_ends_every_earlier_one(app, client, make_principal) -> None:
    # Issue 10 item 9: an older reset token still worked after a newer one was used.
    app.state.identity.config.password_reset_requests_per_account = 10  # has its own test
    p = await make_principal()
    first = await _request_token(app, client, p)
    second = await _request_token(app, client, p)
    assert (await _confirm(client, first)).status_code == 401  # ended by the second
    third = await _request_token(app, client, p)
    assert (await _confirm(client, third)).status_code == 204
    assert (await _confirm(client, second, password="reset pass 2")).status_code == 401
    # A password change ends a pending token as well.
    fourth = await _request_token(app, client, p)
    login = await client.post(
        "/v1/auth/login",
        json={"tenant": p.tenant_slug, "email": p.email, "password": "reset pass 1"},
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    changed = await client.post(
        "/v1/me/password",
        json={"current_password": "reset pass 1", "new_password": "changed pass 3"},
        headers=headers,
    )
    assert changed.status_code == 204
    assert (await _confirm(client, fourth)).status_code == 401


async def test_wrong_codes_are_limited_per_token_and_per_account(app, client, make_principal):
    # Issue 10 item 3: one reset token accepted 30 wrong codes, then the right one.
    config = app.state.identity.config
    config.backoff_base_s = 0  # the back-off has its own test
    p = await make_principal()
    with clock.frozen_clock(_step_start()) as frozen:
        secret, _ = await _enrol(client, p)
        frozen.advance(timedelta(seconds=30))
        wrong = wrong_code(secret)
        right = pyotp.TOTP(secret).at(clock.now())
        spent = 0
        token = await _request_token(app, client, p)
        for _ in range(config.password_reset_max_attempts):
            assert (await _confirm(client, token, wrong)).status_code == 422
            spent += 1
        assert (await _confirm(client, token, right)).status_code == 401  # the token is dead
        token = await _request_token(app, client, p)
        while spent < config.lockout_threshold:
            assert (await _confirm(client, token, wrong)).status_code == 422
            spent += 1
        locked = await _confirm(client, await _request_token(app, client, p), right)
        assert locked.status_code == 429
        assert locked.json()["type"].endswith("/account-locked")
        login = await client.post(
            "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
        )
        assert login.status_code == 429


async def test_a_used_or_unknown_token_costs_no_password_hash(
    app, client, make_principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = _reset.password_hash_pooled

    async def counting(password: str) -> str:
        hashed.append(password)
        return await real(password)

    monkeypatch.setattr(_reset, "password_hash_pooled", counting)
    p = await make_principal()
    token = await _request_token(app, client, p)
    assert (await _confirm(client, token)).status_code == 204
    assert len(hashed) == 1
    for stale in (token, "fsp_" + "A" * 43, "not-a-token", token + "x"):
        refused = await _confirm(client, stale, password="another long passphrase")
        assert refused.status_code == 401
    assert len(hashed) == 1
