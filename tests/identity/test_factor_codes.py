"""Email and SMS codes as second factors (issue 15): enrolment proves the address, the
login step lists the enrolled factors, codes work once, expire, take five wrong tries,
count towards the person's lockout whatever code is asked for, and are sent throttled.

Codes are read here from the sealed event payload (as the mail sender does); delivery by
SMTP and the SMS sink is tested in tests/messaging/test_factor_code_delivery.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from fiscus.core import clock
from fiscus.identity.models import MfaFactor
from fiscus.identity.service import EMAIL_CODE_EVENT, SMS_CODE_EVENT, factor_code_unseal
from tests.factories import PASSWORD
from tests.identity.test_tenant_accounts import events_of

PHONE = "+4915112345678"


async def last_code(app: Any, p: Any, kind: str) -> str:
    """The newest code sent to `p`'s factor of `kind`, opened as the sender opens it."""
    event_type = EMAIL_CODE_EVENT if kind == "email" else SMS_CODE_EVENT
    event = (await events_of(app, p.tenant_id, event_type))[-1]
    assert "code" not in event.payload and PHONE not in str(event.payload)
    return factor_code_unseal(app.state.keyring, event_type, event.payload)


def _later(seconds: int = 31) -> Any:
    return clock.frozen_clock(clock.now() + timedelta(seconds=seconds))


async def enrol(app: Any, client: Any, p: Any, kind: str, address: str) -> str:
    """Enrol a factor; its id."""
    started = await client.post(
        "/v1/me/mfa/factors", json={"kind": kind, "address": address}, headers=p.headers
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["status"] == "pending" and body["recommended"] == "totp"
    assert address not in body["address"]
    code = await last_code(app, p, kind)
    assert len(code) == 6 and code.isdigit()
    done = await client.post(
        f"/v1/me/mfa/factors/{body['id']}/confirm", json={"code": code}, headers=p.headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "active"
    return str(body["id"])


async def login(client: Any, p: Any) -> dict[str, Any]:
    answer = await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_an_sms_factor_enrols_and_logs_in_with_a_code_that_works_once(
    app, client, make_principal
) -> None:
    p = await make_principal()
    factor_id = await enrol(app, client, p, "sms", PHONE)
    listed = await client.get("/v1/me/mfa/factors", headers=p.headers)
    assert [(f["id"], f["kind"], f["status"]) for f in listed.json()] == [
        (factor_id, "sms", "active")
    ]
    assert listed.json()[0]["address"] == "+49***78"
    challenge = await login(client, p)
    assert challenge["mfa_required"] is True and challenge["factors"] == ["sms"]
    token = challenge["mfa_token"]
    with _later():
        sent = await client.post("/v1/auth/mfa/send", json={"mfa_token": token, "factor": "sms"})
        assert sent.status_code == 202, sent.text
        code = await last_code(app, p, "sms")
        ok = await client.post(
            "/v1/auth/mfa/verify", json={"mfa_token": token, "code": code, "factor": "sms"}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["token_type"] == "bearer"
        # The same code on a new challenge: spent.
        again = (await login(client, p))["mfa_token"]
        replay = await client.post(
            "/v1/auth/mfa/verify", json={"mfa_token": again, "code": code, "factor": "sms"}
        )
    assert replay.status_code == 422
    assert replay.json()["type"].endswith("/mfa-code-invalid")


async def test_enrolment_needs_the_code_sent_to_the_address(app, client, make_principal) -> None:
    p = await make_principal()
    started = await client.post(
        "/v1/me/mfa/factors", json={"kind": "email", "address": "Me@Example.com"}, headers=p.headers
    )
    assert started.status_code == 201
    factor_id = started.json()["id"]
    assert started.json()["address"] == "m***@example.com"
    code = await last_code(app, p, "email")
    wrong = "000000" if code != "000000" else "111111"
    bad = await client.post(
        f"/v1/me/mfa/factors/{factor_id}/confirm", json={"code": wrong}, headers=p.headers
    )
    assert bad.status_code == 422
    # A pending factor is no factor: the login is one step.
    assert "access_token" in await login(client, p)
    other = await make_principal(role="analyst", tenant_id=p.tenant_id)
    stolen = await client.post(
        f"/v1/me/mfa/factors/{factor_id}/confirm", json={"code": code}, headers=other.headers
    )
    assert stolen.status_code == 404
    assert stolen.json()["type"].endswith("/mfa-factor-not-found")
    with _later(5 * 60 + 1):
        late = await client.post(
            f"/v1/me/mfa/factors/{factor_id}/confirm", json={"code": code}, headers=p.headers
        )
    assert late.status_code == 422
    bad_phone = await client.post(
        "/v1/me/mfa/factors", json={"kind": "sms", "address": "12345"}, headers=p.headers
    )
    assert bad_phone.status_code == 400


async def test_a_code_takes_five_wrong_tries_and_a_new_code_keeps_the_count(
    app, client, make_principal
) -> None:
    p = await make_principal()
    await enrol(app, client, p, "sms", PHONE)
    token = (await login(client, p))["mfa_token"]
    with _later():
        assert (
            await client.post("/v1/auth/mfa/send", json={"mfa_token": token, "factor": "sms"})
        ).status_code == 202
        code = await last_code(app, p, "sms")
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        for _ in range(4):
            bad = await client.post(
                "/v1/auth/mfa/verify", json={"mfa_token": token, "code": wrong, "factor": "sms"}
            )
            assert bad.status_code == 422
        token = (await login(client, p))["mfa_token"]
        bad = await client.post(
            "/v1/auth/mfa/verify", json={"mfa_token": token, "code": wrong, "factor": "sms"}
        )
        assert bad.status_code in (422, 429)
        # Five wrong tries on the code: the right one is refused too.
        dead = await client.post(
            "/v1/auth/mfa/verify", json={"mfa_token": token, "code": code, "factor": "sms"}
        )
        assert dead.status_code in (422, 429)
    # The person's failures are counted whatever code comes next: a fresh code does not
    # wipe them, and the tenth wrong code locks the account.
    async with app.state.db.uow(tenant_id=p.tenant_id) as uow:
        row = (
            await uow.session.execute(select(MfaFactor).where(MfaFactor.user_id == p.user_id))
        ).scalar_one()
        assert row.code_attempts >= 5
    failures = 5
    moment = clock.now() + timedelta(seconds=60)
    locked = None
    while failures < 12:
        moment += timedelta(seconds=61)
        with clock.frozen_clock(moment):
            answer = await client.post(
                "/v1/auth/login",
                json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD},
            )
            if answer.status_code == 429:
                locked = answer
                break
            token = answer.json()["mfa_token"]
            await client.post("/v1/auth/mfa/send", json={"mfa_token": token, "factor": "sms"})
            fresh = await last_code(app, p, "sms")
            miss = f"{(int(fresh) + 1) % 10**6:06d}"
            answer = await client.post(
                "/v1/auth/mfa/verify", json={"mfa_token": token, "code": miss, "factor": "sms"}
            )
            if answer.status_code == 429:
                locked = answer
                break
            failures += 1
    assert locked is not None, "ten wrong codes must lock the account"
    assert locked.json()["type"].endswith(("/account-locked", "/login-throttled"))


async def test_sending_is_throttled_per_person(app, client, make_principal) -> None:
    p = await make_principal()
    factor_id = await enrol(app, client, p, "email", p.email)
    token = (await login(client, p))["mfa_token"]
    # The enrolment code was sent just now: wait 30 s before the next.
    soon = await client.post("/v1/auth/mfa/send", json={"mfa_token": token, "factor": "email"})
    assert soon.status_code == 429
    assert soon.json()["type"].endswith("/mfa-code-resend-throttled")
    assert int(soon.headers["Retry-After"]) <= 31
    moment = clock.now()
    answers = []
    for _ in range(5):
        moment += timedelta(seconds=31)
        with clock.frozen_clock(moment):
            answers.append(
                (
                    await client.post(f"/v1/me/mfa/factors/{factor_id}/code", headers=p.headers)
                ).status_code
            )
    # Five codes an hour (the enrolment's included): the fifth resend is refused.
    assert answers == [202, 202, 202, 202, 429]
    unknown = await client.post("/v1/auth/mfa/send", json={"mfa_token": token, "factor": "sms"})
    assert unknown.status_code in (404, 429)


async def test_several_factors_are_offered_and_each_counts_for_step_up(
    app, client, make_principal
) -> None:
    p = await make_principal()
    await enrol(app, client, p, "email", p.email)
    with _later():
        sms_id = await enrol(app, client, p, "sms", PHONE)
    assert (await login(client, p))["factors"] == ["email", "sms"]
    # Step-up with a texted code: the password alone is not enough any more.
    with _later(11 * 60):
        alone = await client.post(
            "/v1/me/reauthenticate", json={"password": PASSWORD}, headers=p.headers
        )
        assert alone.status_code == 401
        sent = await client.post(f"/v1/me/mfa/factors/{sms_id}/code", headers=p.headers)
        assert sent.status_code == 202
        code = await last_code(app, p, "sms")
        ok = await client.post(
            "/v1/me/reauthenticate",
            json={"password": PASSWORD, "code": code, "factor": "sms"},
            headers=p.headers,
        )
        assert ok.status_code == 204, ok.text
        removed = await client.delete(f"/v1/me/mfa/factors/{sms_id}", headers=p.headers)
        assert removed.status_code == 204
    assert (await login(client, p))["factors"] == ["email"]


async def test_a_factor_of_another_tenant_is_not_found(app, client, make_principal) -> None:
    a = await make_principal()
    b = await make_principal()
    factor_id = await enrol(app, client, a, "sms", PHONE)
    for method, suffix in (("post", "/code"), ("delete", ""), ("post", "/confirm")):
        kwargs: dict[str, Any] = {"headers": b.headers}
        if suffix == "/confirm":
            kwargs["json"] = {"code": "123456"}
        answer = await getattr(client, method)(f"/v1/me/mfa/factors/{factor_id}{suffix}", **kwargs)
        assert answer.status_code == 404, (method, suffix, answer.text)
    assert (await client.get("/v1/me/mfa/factors", headers=b.headers)).json() == []
