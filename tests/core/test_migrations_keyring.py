"""The key-ring data migrations (0006, 0303-0306) on a database with rows, up and down.

Rows are written as the code before the key ring wrote them: webhook secrets and replay
bodies sealed with keys derived from the root secret alone (an independent copy of that
old scheme here), messages, history notes and phone numbers in plain text. After the
upgrade every value opens through today's code and no plaintext is left in the tables;
after the downgrade the old scheme opens them again. A database without rows migrates
without any secret at all.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from alembic import command
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from fiscus.core.db import Database, libpq_url
from fiscus.core.idempotency import IdempotencyStore, Replay
from fiscus.core.migrate import alembic_config, upgrade
from fiscus.messaging._sealing import PHONE, message_open, unseal
from fiscus.messaging.models import Message, MessageProfile, MessageStatusChange
from fiscus.webhooks._signing import secret_open
from fiscus.webhooks.models import WebhookSecret
from tests.conftest import TEST_SECRET, recreate_database, scratch_database_name
from tests.factories import keyring_for

# The heads before the key ring's data migrations, one per branch.
BEFORE = ("0005", "0102", "0203", "0302")
TENANT, ENDPOINT, SECRET_ROW = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
USER, MESSAGE, CHANGE = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
WHSEC = "whsec_" + "S" * 43 + "="
REPLAY_BODY = b'{"id": "x", "secret": "whsec_shown_once"}'


def _old_seal(info: bytes, plaintext: bytes, aad: bytes) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        TEST_SECRET.encode()
    )
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _old_open(info: bytes, sealed: bytes, aad: bytes) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        TEST_SECRET.encode()
    )
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)


@pytest.fixture
def old_database(server_url: str, worker_id: str) -> str:
    url = recreate_database(server_url, scratch_database_name("keyring_migrations", worker_id))
    for head in BEFORE:
        upgrade(url, head)
    return url


def _write_old_rows(url: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(libpq_url(url)) as connection:
        connection.execute(
            "INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, enabled,"
            " created_at, updated_at) VALUES (%s, %s, 'https://h.example', '{x.y}', true, %s, %s)",
            (TENANT, ENDPOINT, now, now),
        )
        connection.execute(
            "INSERT INTO webhook_secrets (tenant_id, id, endpoint_id, sealed_secret, created_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (
                TENANT,
                SECRET_ROW,
                ENDPOINT,
                _old_seal(b"fiscus/webhooks/secrets/v1", WHSEC.encode(), ENDPOINT.bytes),
                now,
            ),
        )
        for key, expires in (("live", now + timedelta(hours=1)), ("gone", now - timedelta(1))):
            sealed = _old_seal(
                b"fiscus/idempotency/responses/v1", REPLAY_BODY, TENANT.bytes + key.encode()
            )
            connection.execute(
                "INSERT INTO idempotency_keys (tenant_id, key, method, path, request_hash,"
                " status_code, response_body, response_headers, created_at, locked_until,"
                " expires_at) VALUES (%s, %s, 'POST', '/v1/x', %s, 201, %s, '{}', %s, %s, %s)",
                (TENANT, key, b"old-fingerprint", sealed, now, now, expires),
            )
        connection.execute(
            "INSERT INTO message_profiles (tenant_id, user_id, phone, timezone, updated_at)"
            " VALUES (%s, %s, '+33612345678', 'UTC', %s)",
            (TENANT, USER, now),
        )
        connection.execute(
            "INSERT INTO messages (tenant_id, id, user_id, event_type, channel, category,"
            " subject, body_text, body_html, address, status, attempt_count, last_error,"
            " created_at) VALUES (%s, %s, %s, 'transfer.posted', 'email', 'transactions',"
            " 'Hello Zelda', 'Dear Zelda Quixote', '<p>Zelda</p>', 'zelda@example.com',"
            " 'failed', 1, 'recipient refused: zelda@example.com', %s)",
            (TENANT, MESSAGE, USER, now),
        )
        connection.execute(
            "INSERT INTO message_status_changes (tenant_id, id, message_id, status, detail, at)"
            " VALUES (%s, %s, %s, 'failed', 'recipient refused: zelda@example.com', %s)",
            (TENANT, CHANGE, MESSAGE, now),
        )


def _table_text(url: str, table: str) -> str:
    with psycopg.connect(libpq_url(url)) as connection:
        rows = connection.execute(f"SELECT t::text FROM {table} t").fetchall()
    return "\n".join(row[0] for row in rows)


async def test_upgrade_seals_existing_rows_and_downgrade_unseals_them(old_database: str) -> None:
    _write_old_rows(old_database)
    upgrade(old_database, root_secrets=[TEST_SECRET])
    db = Database(old_database, pool_size=2, max_overflow=0)
    try:
        ring = await keyring_for(db)
        async with db.uow() as uow:
            phone = await uow.session.scalar(select(MessageProfile.phone_sealed))
            message = await uow.session.get(Message, (TENANT, MESSAGE))
            change = await uow.session.get(MessageStatusChange, (TENANT, CHANGE))
            assert message is not None and change is not None
            opened = message_open(ring, message, [change])
            secret = await uow.session.scalar(
                select(WebhookSecret.sealed_secret).where(WebhookSecret.id == SECRET_ROW)
            )
        store = IdempotencyStore(db, keyring=ring)
        replay = await store.begin(
            tenant_id=TENANT, key="live", method="POST", path="/v1/x", fingerprint=b"new"
        )
    finally:
        await db.dispose()
    assert unseal(ring, PHONE, (TENANT, USER), phone) == "+33612345678"
    assert (opened.subject, opened.body, opened.html) == (
        "Hello Zelda",
        "Dear Zelda Quixote",
        "<p>Zelda</p>",
    )
    assert opened.address == "zelda@example.com"
    assert opened.last_error == opened.history[0].detail == "recipient refused: zelda@example.com"
    assert secret is not None
    opened_secret = secret_open(
        ring, secret, tenant_id=TENANT, endpoint_id=ENDPOINT, secret_id=SECRET_ROW
    )
    assert opened_secret == WHSEC
    assert isinstance(replay, Replay) and replay.body == REPLAY_BODY
    for table in ("messages", "message_status_changes", "message_profiles"):
        stored = _table_text(old_database, table)
        assert "zelda" not in stored.lower() and "33612345678" not in stored, table
    assert "gone" not in _table_text(old_database, "idempotency_keys"), "expired rows go"

    config = alembic_config(old_database, root_secrets=[TEST_SECRET])
    command.downgrade(config, "0302")
    command.downgrade(config, "0005")
    with psycopg.connect(libpq_url(old_database)) as connection:
        row = connection.execute(
            "SELECT subject, body_text, address, last_error FROM messages"
        ).fetchone()
        phone = connection.execute("SELECT phone FROM message_profiles").fetchone()
        sealed = connection.execute("SELECT sealed_secret FROM webhook_secrets").fetchone()
        body = connection.execute("SELECT response_body FROM idempotency_keys").fetchone()
    assert row == (
        "Hello Zelda",
        "Dear Zelda Quixote",
        "zelda@example.com",
        "recipient refused: zelda@example.com",
    )
    assert phone == ("+33612345678",)
    assert sealed is not None and body is not None
    assert _old_open(b"fiscus/webhooks/secrets/v1", sealed[0], ENDPOINT.bytes) == WHSEC.encode()
    aad = TENANT.bytes + b"live"
    assert _old_open(b"fiscus/idempotency/responses/v1", body[0], aad) == REPLAY_BODY


def test_a_secret_no_configured_root_opens_stops_the_migration(old_database: str) -> None:
    _write_old_rows(old_database)
    with pytest.raises(RuntimeError, match="webhook signing secret"):
        upgrade(old_database, root_secrets=["another-root-secret-" + "z" * 40])


def test_a_database_without_rows_needs_no_secret(
    server_url: str, worker_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = recreate_database(server_url, scratch_database_name("keyring_fresh", worker_id))

    def no_settings() -> None:
        raise AssertionError("a fresh database asked for the root secret")

    monkeypatch.setattr("fiscus.core.config.load_settings", no_settings)
    upgrade(url)
    with psycopg.connect(libpq_url(url)) as connection:
        keys = connection.execute("SELECT count(*) FROM encryption_keys").fetchone()
    assert keys == (0,)
