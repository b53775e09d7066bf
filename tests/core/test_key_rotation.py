"""Rotating the root secret and the data key keeps everything at rest readable.

The root secret goes A -> B -> C and the data key is replaced twice: once by the real
`fiscus keys rotate` command (which also re-wraps under B), once by the service behind it
in a running app (after the app started with C and re-wrapped). Between steps the app is
restarted with the new settings, as an operator would; the last one knows only C. Then a
webhook is still signed with the secret created under A (checked by the
`standardwebhooks` receiver library), an idempotent request made under A still replays,
messages still open with their recipient's address and phone number, a marketing
unsubscribe link mailed under A still works, and no registered value is left on an old key.

The first test is the issue's regression at the HTTP level (a live server, only its API):
before the key ring, following the README's rotation advice made every webhook secret and
every stored replay unreadable.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from standardwebhooks import Webhook

from fiscus.api import create_app
from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.events import emit, events_relay_batch
from fiscus.core.keyring import keys_rotate
from fiscus.messaging._directory import IdentityDirectory
from fiscus.messaging._recipients import install_directory
from fiscus.messaging._unsubscribe import Unsubscribe, token_make
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.webhooks.delivery import deliveries_dispatch
from fiscus.worker import install_event_subscribers
from tests.conftest import make_settings, recreate_database, scratch_database_name
from tests.factories import PASSWORD, Principal, principal, session_headers
from tests.keyring_checks import assert_nothing_stale
from tests.live import fiscus_cli, live_server
from tests.webhooks.receiver import Receiver, running

ROOT_A = "root-a-" + "a" * 40
ROOT_B = "root-b-" + "b" * 40
ROOT_C = "root-c-" + "c" * 40
PHONE = "+33612345678"


@contextmanager
def _served(url: str, log: Path, extra: dict[str, str]) -> Iterator[httpx.Client]:
    """A live `fiscus serve` with these settings, and an HTTP client to it."""
    with (
        live_server(url, log_file=log, extra_env=extra) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        yield http


def test_changing_the_root_secret_keeps_webhook_signing_and_replays(
    server_url: str, worker_id: str, tmp_path: Path
) -> None:
    url = recreate_database(server_url, scratch_database_name("rotation", worker_id))
    env = {"FISCUS_DATABASE_URL": url, "FISCUS_SECRET_KEY": ROOT_A, "FISCUS_ENV": "test"}
    assert fiscus_cli("migrate", env=env).returncode == 0
    assert fiscus_cli("admin", "create-tenant", "rot", "--name", "Rot", env=env).returncode == 0
    owner = ["admin", "create-user", "--tenant", "rot", "--email", "o@example.com"]
    made = fiscus_cli(*owner, "--role", "owner", env=env | {"FISCUS_PASSWORD": "rotation pass 1"})
    assert made.returncode == 0, made.stderr
    login = {"tenant": "rot", "email": "o@example.com", "password": "rotation pass 1"}
    extra = {"FISCUS_WEBHOOKS_ALLOW_PRIVATE": "true", "FISCUS_SECRET_KEY": ROOT_A}
    with running(Receiver()) as receiver:
        create = {"url": receiver.url + "/hooks", "event_types": ["transfer.*"]}
        key = {"Idempotency-Key": str(uuid.uuid4())}
        with _served(url, tmp_path / "a.log", extra) as http:
            auth = _bearer(http.post("/v1/auth/login", json=login).json())
            first = http.post("/v1/webhook-endpoints", json=create, headers=auth | key)
            assert first.status_code == 201, first.text
        # The README's advice: the new secret, the old one listed as previous.
        extra |= {"FISCUS_SECRET_KEY": ROOT_B, "FISCUS_PREVIOUS_SECRET_KEYS": json.dumps([ROOT_A])}
        with _served(url, tmp_path / "b.log", extra) as http:
            auth = _bearer(http.post("/v1/auth/login", json=login).json())
            again = http.post("/v1/webhook-endpoints", json=create, headers=auth | key)
            endpoint = first.json()["id"]
            sent = http.post(f"/v1/webhook-endpoints/{endpoint}/test", headers=auth)
            assert sent.status_code in (200, 202), sent.text
            _wait_for(lambda: bool(receiver.requests))
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["secret"] == first.json()["secret"]
    [request] = receiver.requests
    Webhook(first.json()["secret"]).verify(request.body, request.headers)


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _wait_for(condition: Any, attempts: int = 300) -> None:
    import time

    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the webhook never arrived")


@asynccontextmanager
async def _app(
    url: str, data_dir: Path, secret: str, previous: tuple[str, ...] = ()
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The real app with these root secrets, started (and the key ring opened) and stopped."""
    settings = make_settings(
        url,
        secret_key=secret,
        previous_secret_keys=list(previous),
        webhooks_allow_private=True,
        data_dir=data_dir,
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, http


async def _data_kids(db: Database) -> set[str]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            text("SELECT id FROM encryption_keys WHERE purpose = 'data'")
        )
        return {row[0] for row in rows}


async def _transfer_event(app: FastAPI, tenant: uuid.UUID, holder: uuid.UUID) -> None:
    """A posted transfer for `holder`, relayed, its messages and webhooks sent."""
    db: Database = app.state.db
    payload = {
        "transfer_id": str(uuid.uuid4()),
        "status": "posted",
        "currency": "EUR",
        "legs": [
            {
                "account_id": str(uuid.uuid4()),
                "direction": "credit",
                "amount": 1250,
                "currency": "EUR",
                "holder_user_id": str(holder),
            },
        ],
    }
    async with db.uow(tenant_id=tenant) as uow:
        await emit(uow, tenant_id=tenant, type="transfer.posted", subject="t/1", payload=payload)
    while await events_relay_batch(db, keyring=app.state.keyring):
        pass
    settings, keyring = app.state.settings, app.state.keyring
    await messages_dispatch(db, settings=settings, keyring=keyring)
    await deliveries_dispatch(db, settings=settings, keyring=keyring)


async def _messages(app: FastAPI, http: httpx.AsyncClient, admin: dict[str, str]) -> set[Any]:
    listed = await http.get("/v1/messages", headers=admin)
    assert listed.status_code == 200, listed.text
    return {(m["channel"], m["address"], m["subject"]) for m in listed.json()["data"]}


async def _enrol_totp(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    """TOTP on for the signed-in user, through the API; the secret (as the app shows it)."""
    proved = await http.post("/v1/me/reauthenticate", json={"password": PASSWORD}, headers=headers)
    assert proved.status_code == 204, proved.text
    started = await http.post("/v1/me/mfa/totp", headers=headers)
    assert started.status_code == 200, started.text
    secret = str(started.json()["secret"])
    code = pyotp.TOTP(secret).now()
    confirmed = await http.post("/v1/me/mfa/totp/confirm", json={"code": code}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    return secret


async def _login_with_totp(http: httpx.AsyncClient, who: Principal, secret: str) -> httpx.Response:
    """Password, then a TOTP code of a later time step (the enrolment's code was spent)."""
    later = clock.now() + timedelta(seconds=90)
    with clock.frozen_clock(later):
        login = await http.post(
            "/v1/auth/login",
            json={"tenant": who.tenant_slug, "email": who.email, "password": who.password},
        )
        assert login.status_code == 200 and login.json().get("mfa_required"), login.text
        code = pyotp.TOTP(secret).at(later)
        return await http.post(
            "/v1/auth/mfa/verify", json={"mfa_token": login.json()["mfa_token"], "code": code}
        )


async def test_two_root_and_two_data_key_rotations_keep_everything_readable(
    db: Database, clean_database: str, tmp_path: Path
) -> None:
    install_event_subscribers()
    key = {"Idempotency-Key": str(uuid.uuid4())}
    try:
        with running(Receiver()) as receiver:
            create = {"url": receiver.url + "/hooks", "event_types": ["transfer.*"]}
            async with _app(clean_database, tmp_path, ROOT_A) as (app, http):
                install_directory(IdentityDirectory(db, app.state.keyring))
                admin = await principal(app, role="admin")
                totp_secret = await _enrol_totp(http, admin.headers)
                holder = await principal(app, role="customer", tenant_id=admin.tenant_id)
                tenant = admin.tenant_id
                first = await http.post(
                    "/v1/webhook-endpoints", json=create, headers=admin.headers | key
                )
                assert first.status_code == 201, first.text
                profile = {"phone": PHONE, "timezone": "UTC"}
                assert (
                    await http.put("/v1/me/message-profile", json=profile, headers=holder.headers)
                ).status_code == 204
                choice = {"category": "transactions", "channels": ["email", "sms", "in_app"]}
                assert (
                    await http.put(
                        "/v1/me/message-preferences", json=choice, headers=holder.headers
                    )
                ).status_code == 200
                await _transfer_event(app, tenant, holder.user_id)
                before = await _messages(app, http, admin.headers)
                link = token_make(
                    app.state.keyring, Unsubscribe(tenant, holder.user_id, "marketing")
                )
                kids = [await _data_kids(db)]
            assert ("email", holder.email, "Transfer posted: 12.50 EUR") in before
            assert ("sms", PHONE, None) in before

            # Root A -> B and data key 1 -> 2, by the command (nothing running meanwhile).
            env = {
                "FISCUS_DATABASE_URL": clean_database,
                "FISCUS_SECRET_KEY": ROOT_B,
                "FISCUS_PREVIOUS_SECRET_KEYS": json.dumps([ROOT_A]),
                "FISCUS_ENV": "test",
            }
            rotated = fiscus_cli("keys", "rotate", "--wait-s", "0", env=env)
            assert rotated.returncode == 0, rotated.stderr
            kids.append(await _data_kids(db))

            # Root B -> C at start, then data key 2 -> 3 while the app runs.
            async with _app(clean_database, tmp_path, ROOT_C, (ROOT_B,)) as (app, http):
                await keys_rotate(db, app.state.keyring, wait_s=0)
                kids.append(await _data_kids(db))

            async with _app(clean_database, tmp_path, ROOT_C) as (app, http):
                install_directory(IdentityDirectory(db, app.state.keyring))
                mfa_login = await _login_with_totp(http, admin, totp_secret)
                identity = app.state.identity
                admin_headers, *_ = await session_headers(
                    db, identity, tenant_id=tenant, user_id=admin.user_id
                )
                again = await http.post(
                    "/v1/webhook-endpoints", json=create, headers=admin_headers | key
                )
                await _transfer_event(app, tenant, holder.user_id)
                after = await _messages(app, http, admin_headers)
                unsubscribed = await http.post("/v1/messaging/unsubscribe", params={"token": link})
                checked = await assert_nothing_stale(db, app.state.keyring)
    finally:
        install_directory(None)

    assert mfa_login.status_code == 200, mfa_login.text
    assert "access_token" in mfa_login.json()
    assert len({frozenset(k) for k in kids}) == 3 and all(len(k) == 1 for k in kids)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["secret"] == first.json()["secret"]
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        Webhook(first.json()["secret"]).verify(request.body, request.headers)
    assert before <= after, "the messages written under root A still open under root C"
    assert unsubscribed.status_code == 204
    assert {
        "webhook_secrets.sealed_secret",
        "idempotency_keys.response_body",
        "messages.address_sealed",
        "messages.content_sealed",
        "message_profiles.phone_sealed",
        "users.email_sealed",
        "users.display_name_sealed",
        "users.totp_secret_sealed",
    } <= set(checked)
