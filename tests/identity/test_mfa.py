"""MFA: RFC 4226/6238 vectors, enrolment, two-step login, replay refusal, backup codes."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from fiscus.core import clock
from fiscus.identity.models import AuthSession
from fiscus.identity.service import totp_matching_step
from tests.factories import PASSWORD

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC4226_CODES = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]
# RFC 6238 appendix B, SHA1, truncated to our 6 digits.
RFC6238_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
]


def test_hotp_matches_rfc4226_vectors() -> None:
    hotp = pyotp.HOTP(RFC_SECRET)
    assert [hotp.at(counter) for counter in range(10)] == RFC4226_CODES


@pytest.mark.parametrize(("unix_time", "eight_digits"), RFC6238_VECTORS)
def test_totp_matches_rfc6238_vectors(unix_time: int, eight_digits: str) -> None:
    assert pyotp.TOTP(RFC_SECRET, digits=8).at(unix_time) == eight_digits
    with clock.frozen_clock(datetime.fromtimestamp(unix_time, UTC)):
        step = totp_matching_step(RFC_SECRET, eight_digits[-6:], after_step=None)
    assert step == unix_time // 30


def test_a_used_step_is_refused_and_drift_is_one_step() -> None:
    at = 1234567890
    with clock.frozen_clock(datetime.fromtimestamp(at, UTC)):
        code = pyotp.TOTP(RFC_SECRET).at(at)
        assert totp_matching_step(RFC_SECRET, code, after_step=at // 30) is None
        old = pyotp.TOTP(RFC_SECRET).at(at - 90)
        assert totp_matching_step(RFC_SECRET, old, after_step=None) is None
        previous = pyotp.TOTP(RFC_SECRET).at(at - 30)
        assert totp_matching_step(RFC_SECRET, previous, after_step=None) == at // 30 - 1


def _step_start() -> datetime:
    """A moment at the start of a past TOTP step (JWT checks use the real clock)."""
    return datetime.fromtimestamp((int(time.time()) // 30) * 30 - 60, UTC)


async def _enrol(client, p) -> tuple[str, list[str]]:
    started = await client.post("/v1/me/mfa/totp", headers=p.headers)
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert body["qr_svg"].startswith("<svg")
    assert len(base64.b32decode(body["secret"])) * 8 >= 160
    code = pyotp.TOTP(body["secret"]).at(clock.now())
    confirmed = await client.post("/v1/me/mfa/totp/confirm", json={"code": code}, headers=p.headers)
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["backup_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    return body["secret"], codes


async def test_mfa_login_is_two_steps_and_a_code_works_once(client, make_principal) -> None:
    p = await make_principal()
    with clock.frozen_clock(_step_start()) as frozen:
        secret, _ = await _enrol(client, p)
        frozen.advance(timedelta(seconds=30))
        login = await client.post(
            "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
        )
        assert login.status_code == 200
        assert login.json()["mfa_required"] is True
        assert "access_token" not in login.json()
        mfa_token = login.json()["mfa_token"]
        # The challenge token is not an access token.
        assert (
            await client.get("/v1/me", headers={"Authorization": f"Bearer {mfa_token}"})
        ).status_code == 401
        code = pyotp.TOTP(secret).at(clock.now())
        verified = await client.post(
            "/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code}
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["token_type"] == "bearer"
        # The challenge is spent by its first success, whatever the code.
        replay = await client.post(
            "/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code}
        )
        assert replay.status_code == 401
        assert replay.json()["type"].endswith("/token-invalid")


async def test_backup_codes_are_single_use_and_regenerable(client, make_principal) -> None:
    p = await make_principal()
    with clock.frozen_clock(_step_start()):
        _, codes = await _enrol(client, p)

    async def login_with(code: str) -> int:
        login = await client.post(
            "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
        )
        token = login.json()["mfa_token"]
        verified = await client.post("/v1/auth/mfa/verify", json={"mfa_token": token, "code": code})
        return verified.status_code

    assert await login_with(codes[0].lower()) == 200  # case and dashes do not matter
    assert await login_with(codes[0]) == 422
    regenerated = await client.post("/v1/me/mfa/backup-codes", headers=p.headers)
    assert regenerated.status_code == 200
    assert await login_with(codes[1]) == 422  # the old set is gone
    assert await login_with(regenerated.json()["backup_codes"][0]) == 200


async def test_turning_totp_off_drops_it_and_its_backup_codes(client, make_principal) -> None:
    p = await make_principal()
    with clock.frozen_clock(_step_start()):
        _, codes = await _enrol(client, p)
    assert (await client.get("/v1/me", headers=p.headers)).json()["mfa_enabled"] is True
    off = await client.delete("/v1/me/mfa/totp", headers=p.headers)
    assert off.status_code == 204, off.text
    assert (await client.get("/v1/me", headers=p.headers)).json()["mfa_enabled"] is False
    # Password alone signs in again: no challenge, and the old backup codes are gone.
    login = await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
    )
    assert login.status_code == 200 and "access_token" in login.json(), login.text
    assert login.json().get("mfa_required") in (None, False)
    regenerate = await client.post("/v1/me/mfa/backup-codes", headers=p.headers)
    assert regenerate.status_code == 409, regenerate.text
    # Enrolling again starts from a new secret, with new backup codes.
    with clock.frozen_clock(_step_start()):
        _, again = await _enrol(client, p)
    assert set(again).isdisjoint(codes)


async def test_confirm_without_enrolment_and_wrong_code_are_refused(client, make_principal):
    p = await make_principal()
    early = await client.post("/v1/me/mfa/totp/confirm", json={"code": "123456"}, headers=p.headers)
    assert early.status_code == 409
    await client.post("/v1/me/mfa/totp", headers=p.headers)
    wrong = await client.post("/v1/me/mfa/totp/confirm", json={"code": "000000"}, headers=p.headers)
    assert wrong.status_code == 422
    me = await client.get("/v1/me", headers=p.headers)
    assert me.json()["mfa_enabled"] is False


async def test_mfa_changes_need_recent_reauthentication(client, make_principal) -> None:
    p = await make_principal()
    with clock.frozen_clock(clock.now() + timedelta(minutes=11)):
        # Still inside the idle timeout? No: 11 minutes idle is fine (30), re-auth is 10.
        refused = await client.post("/v1/me/mfa/totp", headers=p.headers)
        assert refused.status_code == 403
        assert refused.json()["type"].endswith("/reauthentication-required")
        bad = await client.post(
            "/v1/me/reauthenticate", json={"password": "wrong password"}, headers=p.headers
        )
        assert bad.status_code == 401
        ok = await client.post(
            "/v1/me/reauthenticate", json={"password": PASSWORD}, headers=p.headers
        )
        assert ok.status_code == 204
        assert (await client.post("/v1/me/mfa/totp", headers=p.headers)).status_code == 200


async def test_tenant_policy_limits_unenrolled_roles_to_self(client, make_principal) -> None:
    owner = await make_principal(role="owner")
    admin = await make_principal(role="admin", tenant_id=owner.tenant_id)
    settings = {"plan": "enterprise", "mfa_required_roles": ["admin"]}
    put = await client.put("/v1/tenant/settings", json=settings, headers=owner.headers)
    assert put.status_code == 200, put.text
    assert (await client.get("/v1/users", headers=admin.headers)).status_code == 403
    assert (await client.get("/v1/me", headers=admin.headers)).status_code == 200
    with clock.frozen_clock(_step_start()):
        await _enrol(client, admin)
    assert (await client.get("/v1/users", headers=admin.headers)).status_code == 200


async def _challenge(client, p) -> str:
    login = await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
    )
    assert login.status_code == 200 and login.json()["mfa_required"] is True
    return str(login.json()["mfa_token"])


async def _sessions_of(app, p) -> int:
    async with app.state.db.uow(tenant_id=p.tenant_id) as uow:
        found = await uow.session.execute(
            select(func.count()).select_from(AuthSession).where(AuthSession.user_id == p.user_id)
        )
        return int(found.scalar_one())


async def test_one_challenge_opens_one_session_even_with_two_backup_codes(
    app, client, make_principal
) -> None:
    # Issue 10 item 14: one challenge token and two backup codes opened two sessions.
    p = await make_principal()
    with clock.frozen_clock(_step_start()):
        _, codes = await _enrol(client, p)
    sessions = await _sessions_of(app, p)
    token = await _challenge(client, p)
    first = await client.post("/v1/auth/mfa/verify", json={"mfa_token": token, "code": codes[0]})
    assert first.status_code == 200
    second = await client.post("/v1/auth/mfa/verify", json={"mfa_token": token, "code": codes[1]})
    assert second.status_code == 401
    assert second.json()["type"].endswith("/token-invalid")
    assert await _sessions_of(app, p) == sessions + 1
    # At the same moment: one wins, the other finds the challenge spent.
    token = await _challenge(client, p)
    raced = await asyncio.gather(
        *(
            client.post("/v1/auth/mfa/verify", json={"mfa_token": token, "code": code})
            for code in (codes[2], codes[3])
        )
    )
    assert sorted(r.status_code for r in raced) == [200, 401]
    assert await _sessions_of(app, p) == sessions + 2
    # The refused codes were not spent: each still opens a session on a new challenge.
    for code in (codes[1], codes[2] if raced[1].status_code == 200 else codes[3]):
        token = await _challenge(client, p)
        again = await client.post("/v1/auth/mfa/verify", json={"mfa_token": token, "code": code})
        assert again.status_code == 200, again.text


async def test_a_challenge_dies_after_five_wrong_codes(app, client, make_principal) -> None:
    app.state.identity.config.backoff_base_s = 0  # the back-off has its own test
    p = await make_principal()
    with clock.frozen_clock(_step_start()) as frozen:
        secret, _ = await _enrol(client, p)
        frozen.advance(timedelta(seconds=30))
        token = await _challenge(client, p)
        wrong = "ZZZZ-ZZZZ-ZZZZ"  # a backup code that was never issued
        for _ in range(app.state.identity.config.mfa_challenge_max_attempts):
            bad = await client.post("/v1/auth/mfa/verify", json={"mfa_token": token, "code": wrong})
            assert bad.status_code == 422
        right = pyotp.TOTP(secret).at(clock.now())
        dead = await client.post("/v1/auth/mfa/verify", json={"mfa_token": token, "code": right})
        assert dead.status_code == 401
        fresh = await _challenge(client, p)
        ok = await client.post("/v1/auth/mfa/verify", json={"mfa_token": fresh, "code": right})
        assert ok.status_code == 200, ok.text
