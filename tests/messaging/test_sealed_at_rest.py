"""Messaging's personal data is stored sealed and shown opened; old unsubscribe links work."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

import psycopg
import pytest
from sqlalchemy import select

from fiscus.core.config import Settings
from fiscus.core.db import Database, libpq_url
from fiscus.core.errors import ValidationProblem
from fiscus.core.keyring import KeyRingError
from fiscus.messaging._sealing import message_open
from fiscus.messaging.models import Message
from fiscus.messaging.service import marketing_unsubscribe, preferences_set, profile_set
from tests.conftest import TEST_SECRET
from tests.factories import keyring_for
from tests.messaging.conftest import Users
from tests.messaging.test_messages import (
    _dispatch,
    emit_relayed,
    messages_of,
    transfer_payload,
    user_context,
)

EMAIL = "zelda.quixote.sealed@example.com"
PHONE = "+33687654321"


def _raw(url: str, table: str) -> str:
    with psycopg.connect(libpq_url(url)) as connection:
        rows = connection.execute(f"SELECT t::text FROM {table} t").fetchall()
    return "\n".join(row[0] for row in rows)


async def test_addresses_phones_and_texts_are_sealed_in_every_messaging_table(
    db: Database, clean_database: str, settings: Settings, directory: Users
) -> None:
    tenant = directory.tenant_id
    holder = await directory.add(EMAIL)
    me = user_context(tenant, holder)
    keyring = await keyring_for(db, settings)
    await profile_set(
        db, me, keyring=keyring, phone=PHONE, timezone="UTC", quiet_start=None, quiet_end=None
    )
    await preferences_set(db, me, category="transactions", channels=["email", "sms", "in_app"])
    await emit_relayed(db, tenant, "transfer.posted", transfer_payload(holder, amount=4321))
    assert await _dispatch(db, settings) == 2
    opened = {m.channel: m for m in await messages_of(db, holder)}
    assert opened["email"].address == EMAIL and opened["sms"].address == PHONE
    assert opened["email"].subject == "Transfer posted: 43.21 EUR"
    for table in ("messages", "message_status_changes", "message_profiles"):
        stored = _raw(clean_database, table)
        for value in (EMAIL, PHONE, "43.21", "Transfer posted"):
            assert value not in stored, (table, value)


async def test_a_sealed_value_copied_to_another_message_does_not_open(
    db: Database, settings: Settings, directory: Users
) -> None:
    holder = await directory.add("copy@example.com")
    await emit_relayed(db, directory.tenant_id, "transfer.posted", transfer_payload(holder))
    await emit_relayed(db, directory.tenant_id, "transfer.voided", transfer_payload(holder))
    keyring = await keyring_for(db, settings)
    async with db.uow() as uow:
        first, second, *_ = (await uow.session.scalars(select(Message))).all()
        second.content_sealed = first.content_sealed
        with pytest.raises(KeyRingError, match="moved"):
            message_open(keyring, second)


def _legacy_token(tenant: uuid.UUID, user: uuid.UUID) -> str:
    """A link as mailed before the key ring: MAC keyed with a hash of the root secret."""
    payload = f"{tenant}|{user}|marketing".encode()
    key = hashlib.sha256(b"fiscus/messaging/unsubscribe/v1:" + TEST_SECRET.encode()).digest()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    encode = base64.urlsafe_b64encode
    return f"{encode(payload).decode().rstrip('=')}.{encode(mac).decode().rstrip('=')}"


async def test_unsubscribe_links_mailed_before_the_key_ring_still_work(
    db: Database, settings: Settings, directory: Users
) -> None:
    tenant = directory.tenant_id
    fan = await directory.add("fan.legacy@example.com")
    await preferences_set(db, user_context(tenant, fan), category="marketing", channels=["email"])
    keyring = await keyring_for(db, settings)
    forged = _legacy_token(tenant, uuid.uuid4())[:-4] + "AAAA"
    with pytest.raises(ValidationProblem):
        await marketing_unsubscribe(
            db, keyring=keyring, token=forged, legacy_roots=settings.root_secrets
        )
    await marketing_unsubscribe(
        db, keyring=keyring, token=_legacy_token(tenant, fan), legacy_roots=settings.root_secrets
    )
    campaign = {"subject": "Rates", "body": "Up.", "user_ids": [str(fan)]}
    await emit_relayed(db, tenant, "marketing.campaign_sent", campaign)
    assert await messages_of(db, fan) == [], "unsubscribed by the old link"
