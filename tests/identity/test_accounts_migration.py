"""Migrations 0103-0109 on an installation with data: one person in two tenants becomes two
accounts with the same id, personal data and TOTP secrets are sealed per row, legacy
backup codes keep working, API keys minted by keys find their person, the audit chain
still verifies, and the person logs in with TOTP in both tenants afterwards."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pyotp
import pytest
from alembic import command
from asgi_lifespan import LifespanManager
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg.types.json import Jsonb

from fiscus.access.schemas import TenantSettings
from fiscus.api import create_app
from fiscus.audit.chain import audit_seal, audit_verify
from fiscus.core import clock
from fiscus.core.db import Database, libpq_url
from fiscus.core.migrate import alembic_config, upgrade
from fiscus.identity import sealed
from fiscus.identity.crypto import derive_key, keyed_hash, token_hash
from fiscus.identity.passwords import password_hash
from fiscus.identity.service import API_KEY_PREFIX
from tests.conftest import TEST_SECRET, make_settings, recreate_database, scratch_database_name
from tests.factories import PASSWORD, keyring_for

pytestmark = pytest.mark.xdist_group("accounts-migration")

LEGACY_CODE = "ABCD-EFGH-JKMN"
EMAIL, NAME = "ada.legacy@example.com", "Ada Legacy"


@dataclass
class Legacy:
    """What was written in the pre-0103 shape."""

    url: str
    tenant_a: uuid.UUID
    tenant_b: uuid.UUID
    person: uuid.UUID
    other: uuid.UUID
    orphan: uuid.UUID
    totp_secret: str
    person_key: str
    minted_key: str
    minted_key_id: uuid.UUID


def _legacy_totp(secret: str, user_id: uuid.UUID) -> bytes:
    nonce = os.urandom(12)
    key = AESGCM(derive_key(TEST_SECRET, "totp-secret-seal"))
    return nonce + key.encrypt(nonce, secret.encode(), user_id.bytes)


def _write_legacy(url: str) -> Legacy:
    now = clock.now()
    ids = {name: uuid.uuid4() for name in ("a", "b", "person", "other", "orphan", "k1", "k2")}
    secret = pyotp.random_base32(32)
    person_key, minted_key = API_KEY_PREFIX + "p" * 43, API_KEY_PREFIX + "m" * 43
    settings = Jsonb(TenantSettings(plan="enterprise").model_dump())
    with psycopg.connect(libpq_url(url)) as db:
        for tenant in ("a", "b"):
            db.execute(
                "INSERT INTO tenants VALUES (%s, %s, %s, 'active', %s, %s)",
                (ids[tenant], f"legacy-{tenant}-{ids[tenant].hex[:6]}", tenant, settings, now),
            )
        hashed = password_hash(PASSWORD)
        for user, email, totp in (
            ("person", EMAIL, _legacy_totp(secret, ids["person"])),
            ("other", "other.legacy@example.com", None),
            ("orphan", "orphan.legacy@example.com", None),
        ):
            db.execute(
                "INSERT INTO users (id, email, display_name, password_hash, status,"
                " totp_secret_sealed, totp_enabled, password_changed_at, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, 'active', %s, %s, %s, %s, %s)",
                (ids[user], email, NAME, hashed, totp, totp is not None, now, now, now),
            )
        for tenant, user, role in (
            ("a", "person", "owner"),
            ("b", "person", "analyst"),
            ("a", "other", "analyst"),
        ):
            db.execute(
                "INSERT INTO memberships VALUES (%s, %s, %s, 'active', %s, %s)",
                (ids[tenant], ids[user], role, now, now),
            )
        code_hash = keyed_hash(derive_key(TEST_SECRET, "mfa-backup-codes"), "ABCDEFGHJKMN")
        db.execute(
            "INSERT INTO mfa_backup_codes VALUES (%s, %s, %s, NULL)",
            (ids["person"], code_hash, now),
        )
        for key_id, key, creator in (("k1", person_key, ids["person"]), ("k2", minted_key, None)):
            db.execute(
                "INSERT INTO api_keys (tenant_id, id, name, role, prefix, key_hash, created_by,"
                " created_at) VALUES (%s, %s, %s, 'admin', %s, %s, %s, %s)",
                (ids["a"], ids[key_id], key_id, key[:8], token_hash(key), creator, now),
            )
        db.execute(
            "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_type, api_key_id,"
            " action, outcome, object_type, object_id, changes)"
            " VALUES (%s, %s, %s, 'api_key', %s, 'api_key.created', 'success', 'api_key', %s,"
            " '{}')",
            (ids["a"], uuid.uuid4(), now, ids["k1"], str(ids["k2"])),
        )
    return Legacy(
        url, ids["a"], ids["b"], ids["person"], ids["other"], ids["orphan"], secret,
        person_key, minted_key, ids["k2"],
    )  # fmt: skip


@pytest.fixture
async def legacy(server_url: str, worker_id: str) -> Legacy:
    url = recreate_database(server_url, scratch_database_name("accounts", worker_id))
    upgrade(url, "0102")
    written = _write_legacy(url)
    db = Database(url, pool_size=2, max_overflow=0)
    try:
        assert await audit_seal(db) == 1  # the chain as the old version left it
    finally:
        await db.dispose()
    upgrade(url, root_secrets=[TEST_SECRET])
    return written


def _rows(url: str, query: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_url(url)) as db:
        return list(db.execute(query, args).fetchall())


async def test_existing_accounts_are_split_per_tenant_and_sealed(legacy: Legacy) -> None:
    users = _rows(
        legacy.url,
        "SELECT tenant_id, id, email_hash, email_sealed, display_name_sealed, totp_secret_sealed"
        " FROM users ORDER BY tenant_id, id",
    )
    assert {(t, u) for t, u, *_ in users} == {
        (legacy.tenant_a, legacy.person),
        (legacy.tenant_b, legacy.person),
        (legacy.tenant_a, legacy.other),
    }  # the orphan (no membership, no tenant) is gone
    db = Database(legacy.url, pool_size=2, max_overflow=0)
    try:
        ring = await keyring_for(db, make_settings(legacy.url))
        copies = [row for row in users if row[1] == legacy.person]
        for tenant_id, user_id, email_hash, email_sealed, name_sealed, totp in copies:
            where = {"tenant_id": tenant_id, "row_id": user_id}
            assert sealed.unseal(ring, sealed.USER_EMAIL, sealed=email_sealed, **where) == EMAIL
            assert sealed.unseal(ring, sealed.USER_NAME, sealed=name_sealed, **where) == NAME
            assert sealed.unseal(ring, sealed.USER_TOTP, sealed=totp, **where) == legacy.totp_secret
            assert bytes(email_hash) == sealed.email_hash(ring, EMAIL)
        assert copies[0][5] != copies[1][5]  # each copy sealed for its own row
        [(created_by, minted_by)] = _rows(
            legacy.url,
            "SELECT created_by, created_by_key_id FROM api_keys WHERE id = %s",
            legacy.minted_key_id,
        )
        assert created_by == legacy.person and minted_by is not None
        assert all(report.ok for report in await audit_verify(db))
    finally:
        await db.dispose()
    codes = _rows(legacy.url, "SELECT tenant_id, legacy_hash FROM mfa_backup_codes")
    assert sorted(codes) == sorted([(legacy.tenant_a, True), (legacy.tenant_b, True)])


async def test_the_person_logs_in_with_totp_and_a_legacy_code_in_both_tenants(
    legacy: Legacy,
) -> None:
    app = create_app(make_settings(legacy.url))
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            slugs = dict(_rows(legacy.url, "SELECT id, slug FROM tenants"))
            for tenant_id, code in (
                (legacy.tenant_a, pyotp.TOTP(legacy.totp_secret).now()),
                (legacy.tenant_b, LEGACY_CODE),
            ):
                login = await client.post(
                    "/v1/auth/login",
                    json={"tenant": slugs[tenant_id], "email": EMAIL, "password": PASSWORD},
                )
                assert login.status_code == 200 and login.json()["mfa_required"] is True
                verified = await client.post(
                    "/v1/auth/mfa/verify",
                    json={"mfa_token": login.json()["mfa_token"], "code": code},
                )
                assert verified.status_code == 200, verified.text
                me = await client.get(
                    "/v1/me",
                    headers={"Authorization": f"Bearer {verified.json()['access_token']}"},
                )
                assert (me.json()["email"], me.json()["tenant_id"]) == (EMAIL, str(tenant_id))
            # The key minted by the person's key acts for the person: it is suspended with them.
            minted = {"Authorization": f"Bearer {legacy.minted_key}"}
            assert (await client.get("/v1/users", headers=minted)).status_code == 200
            with psycopg.connect(libpq_url(legacy.url)) as db:
                db.execute(
                    "UPDATE memberships SET status = 'disabled' WHERE tenant_id = %s"
                    " AND user_id = %s",
                    (legacy.tenant_a, legacy.person),
                )
            assert (await client.get("/v1/users", headers=minted)).status_code == 401


async def test_a_downgrade_with_data_returns_to_one_global_login(legacy: Legacy) -> None:
    command.downgrade(alembic_config(legacy.url, root_secrets=[TEST_SECRET]), "0102")
    users = _rows(
        legacy.url, "SELECT id, email, display_name, totp_secret_sealed FROM users ORDER BY email"
    )
    assert [(u, e, n) for u, e, n, _ in users] == [
        (legacy.person, EMAIL, NAME),
        (legacy.other, "other.legacy@example.com", NAME),
    ]
    sealed_totp = bytes(users[0][3])
    key = AESGCM(derive_key(TEST_SECRET, "totp-secret-seal"))
    opened = key.decrypt(sealed_totp[:12], sealed_totp[12:], legacy.person.bytes)
    assert opened.decode() == legacy.totp_secret
    codes = _rows(legacy.url, "SELECT user_id FROM mfa_backup_codes")
    assert codes == [(legacy.person,)]
