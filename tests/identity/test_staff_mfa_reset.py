"""Staff-assisted reset of a person's second factors (issue 15): a permission, the staff
member's own step-up, never on oneself, the person's sessions end, they are told, audited."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from sqlalchemy import select

from fiscus.audit.models import AuditEvent
from fiscus.core import clock
from fiscus.identity.service import MFA_RESET_EVENT
from tests.factories import PASSWORD
from tests.identity.test_factor_codes import PHONE, enrol, login
from tests.identity.test_tenant_accounts import events_of


async def test_an_admin_resets_another_persons_factors_and_ends_their_sessions(
    app, client, make_principal
) -> None:
    admin = await make_principal(role="admin")
    person = await make_principal(role="customer", tenant_id=admin.tenant_id)
    started = await client.post("/v1/me/mfa/totp", headers=person.headers)
    secret = started.json()["secret"]
    confirmed = await client.post(
        "/v1/me/mfa/totp/confirm",
        json={"code": pyotp.TOTP(secret).at(clock.now())},
        headers=person.headers,
    )
    assert confirmed.status_code == 200
    await enrol(app, client, person, "sms", PHONE)
    assert (await login(client, person))["factors"] == ["totp", "backup_code", "sms"]
    url = f"/v1/users/{person.user_id}/mfa/reset"
    # Staff without the permission, and the person on themself, are refused.
    operator = await make_principal(role="operator", tenant_id=admin.tenant_id)
    assert (await client.post(url, headers=operator.headers)).status_code == 403
    own = await client.post(f"/v1/users/{admin.user_id}/mfa/reset", headers=admin.headers)
    assert own.status_code == 403
    # The staff member's own proof must be recent.
    with clock.frozen_clock(clock.now() + timedelta(minutes=11)):
        stale = await client.post(url, headers=admin.headers)
    assert stale.status_code == 403
    assert stale.json()["type"].endswith("/reauthentication-required")
    done = await client.post(url, headers=admin.headers)
    assert done.status_code == 204, done.text
    # Every factor is gone, the person's sessions ended, they log in with a password alone.
    assert (await client.get("/v1/me", headers=person.headers)).status_code == 401
    assert "access_token" in await login(client, person)
    [notice] = await events_of(app, admin.tenant_id, MFA_RESET_EVENT)
    assert notice.payload == {"user_id": str(person.user_id), "tenant": admin.tenant_slug}
    async with app.state.db.uow(tenant_id=admin.tenant_id) as uow:
        [record] = (
            await uow.session.execute(
                select(AuditEvent).where(AuditEvent.action == "mfa.reset_by_staff")
            )
        ).scalars()
    assert record.actor_id == admin.user_id and record.object_id == str(person.user_id)
    assert record.changes["details"]["factors"] == ["totp", "sms"]
    assert record.changes["details"]["sessions_ended"] >= 1


async def test_a_user_of_another_tenant_is_not_found(app, client, make_principal) -> None:
    admin = await make_principal(role="admin")
    stranger = await make_principal(role="customer")
    answer = await client.post(f"/v1/users/{stranger.user_id}/mfa/reset", headers=admin.headers)
    assert answer.status_code == 404
    relogin = {"tenant": stranger.tenant_slug, "email": stranger.email, "password": PASSWORD}
    assert (await client.post("/v1/auth/login", json=relogin)).status_code == 200
    assert (await client.get("/v1/me", headers=stranger.headers)).status_code == 200
