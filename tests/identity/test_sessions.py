"""Session lifecycle: refresh rotation, reuse detection, logout, password change, disable,
idle and absolute timeouts, the session list and limits."""

from __future__ import annotations

from datetime import timedelta

from fiscus.access.schemas import TenantSettings
from fiscus.core import clock
from tests.factories import PASSWORD, session_headers, tenant_settings_set


async def _refresh(client, token: str):
    return await client.post("/v1/auth/refresh", json={"refresh_token": token})


async def test_refresh_rotates_and_reuse_revokes_the_family(client, make_principal) -> None:
    p = await make_principal()
    first = await _refresh(client, p.refresh_token)
    assert first.status_code == 200, first.text
    pair = first.json()
    assert pair["refresh_token"] != p.refresh_token
    new_headers = {"Authorization": f"Bearer {pair['access_token']}"}
    assert (await client.get("/v1/me", headers=new_headers)).status_code == 200
    second = await _refresh(client, pair["refresh_token"])
    assert second.status_code == 200
    # The first token again: someone copied it. The whole session ends.
    reuse = await _refresh(client, p.refresh_token)
    assert reuse.status_code == 401
    latest = second.json()
    assert (await _refresh(client, latest["refresh_token"])).status_code == 401
    latest_headers = {"Authorization": f"Bearer {latest['access_token']}"}
    assert (await client.get("/v1/me", headers=latest_headers)).status_code == 401


async def test_unknown_refresh_token_is_401(client) -> None:
    assert (await _refresh(client, "fsr_" + "a" * 43)).status_code == 401
    assert (await _refresh(client, "nonsense")).status_code == 401


async def test_password_change_ends_other_sessions_not_this_one(app, client, make_principal):
    p = await make_principal()
    other, _, _, other_refresh = await session_headers(
        app.state.db, app.state.identity, tenant_id=p.tenant_id, user_id=p.user_id
    )
    wrong = await client.post(
        "/v1/me/password",
        headers=p.headers,
        json={"current_password": "wrong one!", "new_password": "a new pass 1"},
    )
    assert wrong.status_code == 401
    weak = await client.post(
        "/v1/me/password",
        headers=p.headers,
        json={"current_password": PASSWORD, "new_password": "password1"},
    )
    assert weak.status_code == 400
    assert weak.json()["type"].endswith("/password-weak")
    changed = await client.post(
        "/v1/me/password",
        headers=p.headers,
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
    )
    assert changed.status_code == 204
    assert (await client.get("/v1/me", headers=p.headers)).status_code == 200
    assert (await client.get("/v1/me", headers=other)).status_code == 401
    assert (await _refresh(client, other_refresh)).status_code == 401
    login = await client.post(
        "/v1/auth/login",
        json={"tenant": p.tenant_slug, "email": p.email, "password": "a brand new passphrase"},
    )
    assert login.status_code == 200


async def test_disabling_a_user_ends_their_sessions_at_once(client, make_principal) -> None:
    admin = await make_principal(role="admin")
    target = await make_principal(role="operator", tenant_id=admin.tenant_id)
    assert (await client.get("/v1/me", headers=target.headers)).status_code == 200
    changed = await client.patch(
        f"/v1/users/{target.user_id}", json={"status": "disabled"}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "disabled"
    assert (await client.get("/v1/me", headers=target.headers)).status_code == 401
    login = await client.post(
        "/v1/auth/login",
        json={"tenant": target.tenant_slug, "email": target.email, "password": PASSWORD},
    )
    assert login.status_code == 401


async def test_session_list_revoke_one_and_revoke_others(app, client, make_principal) -> None:
    p = await make_principal()
    other, other_id, _, _ = await session_headers(
        app.state.db, app.state.identity, tenant_id=p.tenant_id, user_id=p.user_id
    )
    third, third_id, _, _ = await session_headers(
        app.state.db, app.state.identity, tenant_id=p.tenant_id, user_id=p.user_id
    )
    listed = await client.get("/v1/me/sessions", headers=p.headers)
    assert listed.status_code == 200
    sessions = {s["id"]: s for s in listed.json()}
    assert set(sessions) == {str(p.session_id), str(other_id), str(third_id)}
    assert sessions[str(p.session_id)]["current"] is True
    ended = await client.delete(f"/v1/me/sessions/{other_id}", headers=p.headers)
    assert ended.status_code == 204
    assert (await client.get("/v1/me", headers=other)).status_code == 401
    assert (await client.get("/v1/me", headers=third)).status_code == 200
    assert (await client.delete("/v1/me/sessions", headers=p.headers)).status_code == 204
    assert (await client.get("/v1/me", headers=third)).status_code == 401
    assert (await client.get("/v1/me", headers=p.headers)).status_code == 200


async def test_someone_elses_session_is_404(app, client, make_principal) -> None:
    a = await make_principal()
    b = await make_principal(tenant_id=a.tenant_id)
    response = await client.delete(f"/v1/me/sessions/{b.session_id}", headers=a.headers)
    assert response.status_code == 404
    assert (await client.get("/v1/me", headers=b.headers)).status_code == 200


async def test_idle_timeout_ends_the_session(app, client, make_principal) -> None:
    p = await make_principal()
    with clock.frozen_clock(clock.now() + timedelta(minutes=29)):
        assert (await client.get("/v1/me", headers=p.headers)).status_code == 200
    with clock.frozen_clock(clock.now() + timedelta(minutes=29 + 31)):
        # The token is "fresh" to PyJWT (real clock) but the session sat idle 31 minutes.
        assert (await client.get("/v1/me", headers=p.headers)).status_code == 401


async def test_absolute_lifetime_ends_even_a_busy_session(client, make_principal) -> None:
    p = await make_principal()
    token = p.refresh_token
    start = clock.now()
    # Refreshed every 25 minutes (inside the idle timeout) for almost 12 hours...
    for step in range(1, 12 * 60 // 25 + 1):
        with clock.frozen_clock(start + timedelta(minutes=25 * step)):
            response = await _refresh(client, token)
            assert response.status_code == 200, (step, response.text)
            token = response.json()["refresh_token"]
    # ...and still it ends at the absolute lifetime.
    with clock.frozen_clock(start + timedelta(hours=12, minutes=1)):
        assert (await _refresh(client, token)).status_code == 401


async def test_session_limit_ends_the_oldest_sessions(app, client, make_principal) -> None:
    p = await make_principal()
    await tenant_settings_set(
        app.state.db,
        tenant_id=p.tenant_id,
        settings=TenantSettings(plan="enterprise", max_sessions_per_user=2),
    )
    for _ in range(2):
        login = await client.post(
            "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
        )
        assert login.status_code == 200
    assert (await client.get("/v1/me", headers=p.headers)).status_code == 401
    latest = {"Authorization": f"Bearer {login.json()['access_token']}"}
    listed = await client.get("/v1/me/sessions", headers=latest)
    assert len(listed.json()) == 2


async def test_login_history_records_success_and_failure(client, make_principal) -> None:
    p = await make_principal()
    await client.post(
        "/v1/auth/login",
        json={"tenant": p.tenant_slug, "email": p.email, "password": "wrong password"},
        headers={"User-Agent": "history-test"},
    )
    await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
    )
    history = await client.get("/v1/me/login-history", headers=p.headers)
    assert history.status_code == 200
    rows = history.json()["data"]
    assert [r["outcome"] for r in rows] == ["success", "failure"]
    assert rows[1]["reason"] == "bad_password"
    assert rows[1]["user_agent"] == "history-test"
    assert rows[1]["ip"] == "127.0.0.1"


async def test_email_change_needs_recent_reauthentication(client, make_principal) -> None:
    p = await make_principal()
    with clock.frozen_clock(clock.now() + timedelta(minutes=11)):
        stale = await client.post(
            "/v1/me/email", json={"email": "new@example.com"}, headers=p.headers
        )
        assert stale.status_code == 403
        assert stale.json()["type"].endswith("/reauthentication-required")
        await client.post("/v1/me/reauthenticate", json={"password": PASSWORD}, headers=p.headers)
        started = await client.post(
            "/v1/me/email", json={"email": "New@Example.com"}, headers=p.headers
        )
        assert started.status_code == 202
        # Nothing changes before the confirmation (tests/identity/test_email_change.py).
        assert (await client.get("/v1/me", headers=p.headers)).json()["email"] == p.email
