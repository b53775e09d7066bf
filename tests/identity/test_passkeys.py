"""Passkeys (issue 15): registration and login ceremonies with a software authenticator
that signs real challenges; replay, wrong origin, a counter going backwards, and another
person's or tenant's credential are refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from fiscus.audit.models import AuditEvent
from fiscus.core import clock
from tests.factories import PASSWORD
from tests.identity.authenticator import SoftAuthenticator, b64url


def _origin(app: Any) -> str:
    return str(app.state.identity.config.webauthn_origin)


async def register(app: Any, client: Any, p: Any, name: str = "Laptop") -> SoftAuthenticator:
    """A new software authenticator with a passkey registered for `p`."""
    device = SoftAuthenticator(origin=_origin(app))
    options = await client.post("/v1/me/passkey-options", headers=p.headers)
    assert options.status_code == 200, options.text
    assert options.json()["rp"]["id"] == app.state.identity.config.webauthn_rp_id
    created = await client.post(
        "/v1/me/passkeys",
        json={"name": name, "credential": device.create(options.json())},
        headers=p.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == name
    return device


async def _login_options(client: Any, tenant: str) -> dict[str, Any]:
    answer = await client.post("/v1/auth/passkey/options", json={"tenant": tenant})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _passwordless(client: Any, tenant: str, credential: dict[str, Any]) -> Any:
    return await client.post(
        "/v1/auth/passkey/login", json={"tenant": tenant, "credential": credential}
    )


async def test_register_then_log_in_without_a_password_and_replay_is_refused(
    app, client, make_principal
) -> None:
    p = await make_principal()
    device = await register(app, client, p)
    await register(app, client, p, name="Phone")
    listed = await client.get("/v1/me/passkeys", headers=p.headers)
    assert [k["name"] for k in listed.json()] == ["Laptop", "Phone"]
    assertion = device.get(await _login_options(client, p.tenant_slug))
    ok = await _passwordless(client, p.tenant_slug, assertion)
    assert ok.status_code == 200, ok.text
    me = await client.get(
        "/v1/me", headers={"Authorization": f"Bearer {ok.json()['access_token']}"}
    )
    assert me.json()["id"] == str(p.user_id)
    replay = await _passwordless(client, p.tenant_slug, assertion)
    assert replay.status_code == 401
    assert replay.json()["type"].endswith("/passkey-invalid")


async def test_a_wrong_origin_or_an_expired_challenge_is_refused(
    app, client, make_principal
) -> None:
    p = await make_principal()
    device = await register(app, client, p)
    options = await _login_options(client, p.tenant_slug)
    phished = device.get(options, origin="https://evil.example")
    assert (await _passwordless(client, p.tenant_slug, phished)).status_code == 401
    # Registration from another origin is refused too.
    other = SoftAuthenticator(origin="https://evil.example")
    created = await client.post(
        "/v1/me/passkeys",
        json={
            "name": "x",
            "credential": other.create(
                (await client.post("/v1/me/passkey-options", headers=p.headers)).json()
            ),
        },
        headers=p.headers,
    )
    assert created.status_code == 401
    late = await _login_options(client, p.tenant_slug)
    with clock.frozen_clock(clock.now() + timedelta(minutes=6)):
        expired = await _passwordless(client, p.tenant_slug, device.get(late))
    assert expired.status_code == 401


async def test_a_counter_going_backwards_is_refused_and_audited(
    app, client, make_principal
) -> None:
    p = await make_principal()
    device = await register(app, client, p)
    first = await _passwordless(
        client, p.tenant_slug, device.get(await _login_options(client, p.tenant_slug), count_step=5)
    )
    assert first.status_code == 200
    # A clone of the authenticator, behind on its counter.
    clone = device.get(await _login_options(client, p.tenant_slug), count_step=-2)
    refused = await _passwordless(client, p.tenant_slug, clone)
    assert refused.status_code == 401
    async with app.state.db.uow(tenant_id=p.tenant_id) as uow:
        found = (
            (
                await uow.session.execute(
                    select(AuditEvent).where(
                        AuditEvent.action == "auth.passkey_sign_count_regressed"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(found) == 1 and found[0].object_id == str(p.user_id)


async def test_a_credential_of_another_tenant_or_person_is_refused(
    app, client, make_principal
) -> None:
    a = await make_principal()
    b = await make_principal()
    same_tenant = await make_principal(role="analyst", tenant_id=a.tenant_id)
    device = await register(app, client, a)
    # Tenant B's ceremony with A's credential: not found there.
    elsewhere = await _passwordless(
        client, b.tenant_slug, device.get(await _login_options(client, b.tenant_slug))
    )
    assert elsewhere.status_code == 401
    # As a second factor of another person of the same tenant: not theirs.
    await register(app, client, same_tenant)
    login = await client.post(
        "/v1/auth/login",
        json={"tenant": a.tenant_slug, "email": same_tenant.email, "password": PASSWORD},
    )
    assert login.json()["factors"] == ["passkey"]
    token = login.json()["mfa_token"]
    options = await client.post("/v1/auth/mfa/passkey/options", json={"mfa_token": token})
    assert options.status_code == 200
    wrong = await client.post(
        "/v1/auth/mfa/passkey",
        json={"mfa_token": token, "credential": device.get(options.json())},
    )
    assert wrong.status_code == 401
    # Another's registration challenge cannot be used either.
    theirs = (await client.post("/v1/me/passkey-options", headers=b.headers)).json()
    stolen = await client.post(
        "/v1/me/passkeys",
        json={"name": "x", "credential": SoftAuthenticator(origin=_origin(app)).create(theirs)},
        headers=a.headers,
    )
    assert stolen.status_code == 401


async def test_a_passkey_as_the_second_factor(app, client, make_principal) -> None:
    p = await make_principal()
    device = await register(app, client, p)
    login = await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
    )
    assert login.json()["mfa_required"] is True and login.json()["factors"] == ["passkey"]
    token = login.json()["mfa_token"]
    options = await client.post("/v1/auth/mfa/passkey/options", json={"mfa_token": token})
    allowed = [c["id"] for c in options.json()["allowCredentials"]]
    assert allowed == [b64url(device.credential_id)]
    assertion = device.get(options.json())
    ok = await client.post(
        "/v1/auth/mfa/passkey", json={"mfa_token": token, "credential": assertion}
    )
    assert ok.status_code == 200, ok.text
    again = await client.post(
        "/v1/auth/mfa/passkey", json={"mfa_token": token, "credential": assertion}
    )
    assert again.status_code == 401
    # Removing it (recent re-authentication) makes the login one step again.
    [key] = (await client.get("/v1/me/passkeys", headers=p.headers)).json()
    assert (
        await client.delete(f"/v1/me/passkeys/{key['id']}", headers=p.headers)
    ).status_code == 204
    relogin = await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
    )
    assert "access_token" in relogin.json()


async def test_step_up_with_a_passkey_and_a_staff_reset_drops_passkeys(
    app, client, make_principal
) -> None:
    admin = await make_principal(role="admin")
    p = await make_principal(role="customer", tenant_id=admin.tenant_id)
    device = await register(app, client, p)
    with clock.frozen_clock(clock.now() + timedelta(minutes=11)):
        # A passkey-only person: the password alone does not re-authenticate.
        alone = await client.post(
            "/v1/me/reauthenticate", json={"password": PASSWORD}, headers=p.headers
        )
        assert alone.status_code == 401
        options = await client.post("/v1/me/passkey-assertion", headers=p.headers)
        assert options.status_code == 200
        assertion = device.get(options.json())
        body = {"password": PASSWORD, "credential": assertion}
        ok = await client.post("/v1/me/reauthenticate", json=body, headers=p.headers)
        assert ok.status_code == 204, ok.text
        replay = await client.post("/v1/me/reauthenticate", json=body, headers=p.headers)
        assert replay.status_code == 401
    reset = await client.post(f"/v1/users/{p.user_id}/mfa/reset", headers=admin.headers)
    assert reset.status_code == 204
    login = await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
    )
    assert "access_token" in login.json()
    gone = await _passwordless(
        client, p.tenant_slug, device.get(await _login_options(client, p.tenant_slug))
    )
    assert gone.status_code == 401
