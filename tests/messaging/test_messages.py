"""Events become emails (through a real SMTP server) and in-app messages, once each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from fiscus.access.context import Context
from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.errors import NotFound, ValidationProblem
from fiscus.core.events import RelayedEvent, emit, events_relay_batch
from fiscus.messaging._sealing import MessageView, message_open
from fiscus.messaging._templates import Body
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.messaging.models import Message, MessageStatusChange
from fiscus.messaging.service import (
    RenderLimits,
    marketing_unsubscribe,
    message_mark_read,
    messages_fan_out,
    preferences_set,
    profile_set,
    template_preview,
    template_save,
)
from fiscus.worker import install_event_subscribers
from tests.conftest import make_settings
from tests.factories import keyring_for
from tests.messaging.conftest import Inbox, Users


async def _dispatch(db: Database, settings: Settings) -> int:
    return await messages_dispatch(db, settings=settings, keyring=await keyring_for(db, settings))


def user_context(tenant_id: uuid.UUID, user_id: uuid.UUID, *permissions: str) -> Context:
    return Context(
        tenant_id=tenant_id,
        actor_type="user",
        actor_id=user_id,
        role="customer",
        permissions=frozenset(permissions),
    )


def transfer_payload(holder: uuid.UUID, amount: int = 1250) -> dict[str, object]:
    """The shape the ledger emits: legs with the account holder."""
    return {
        "transfer_id": str(uuid.uuid4()),
        "status": "posted",
        "kind": "transfer",
        "currency": "EUR",
        "parent_id": None,
        "legs": [
            {
                "account_id": str(uuid.uuid4()),
                "direction": "debit",
                "amount": amount,
                "currency": "EUR",
            },
            {
                "account_id": str(uuid.uuid4()),
                "direction": "credit",
                "amount": amount,
                "currency": "EUR",
                "holder_user_id": str(holder),
            },
        ],
    }


async def emit_relayed(
    db: Database, tenant: uuid.UUID, type_: str, payload: dict[str, object]
) -> list[RelayedEvent]:
    install_event_subscribers()
    async with db.uow(tenant_id=tenant) as uow:
        await emit(uow, tenant_id=tenant, type=type_, subject="x/1", payload=payload)
    relayed: list[RelayedEvent] = []
    keyring = await keyring_for(db)
    while batch := await events_relay_batch(db, keyring=keyring):
        relayed.extend(batch)
    return relayed


async def messages_of(db: Database, user: uuid.UUID) -> list[MessageView]:
    """The user's messages, opened with the key ring (they are stored sealed)."""
    keyring = await keyring_for(db)
    async with db.uow() as uow:
        rows = await uow.session.execute(
            select(Message).where(Message.user_id == user).order_by(Message.id)
        )
        return [message_open(keyring, row) for row in rows.scalars()]


async def test_posted_transfer_emails_and_notifies_the_holder_once(
    db: Database, settings: Settings, smtp: tuple[Inbox, int], directory: Users
) -> None:
    tenant = directory.tenant_id
    holder = await directory.add("ada@example.com")
    relayed = await emit_relayed(db, tenant, "transfer.posted", transfer_payload(holder))
    # The relay may run again after a crash: fan-out is idempotent per (event, user, channel).
    async with db.uow() as uow:
        await messages_fan_out(uow, relayed, await keyring_for(db))
    assert await _dispatch(db, settings) == 1
    inbox, _ = smtp
    [mail] = inbox.messages
    assert mail["To"] == "ada@example.com"
    assert mail["Subject"] == "Transfer posted: 12.50 EUR"
    assert "credit of 12.50 EUR" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<strong>12.50 EUR</strong>" in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "List-Unsubscribe" not in mail, "only marketing carries unsubscribe headers"
    messages = await messages_of(db, holder)
    assert sorted((m.channel, m.status) for m in messages) == [
        ("email", "sent"),
        ("in_app", "delivered"),
    ]
    in_app = next(m for m in messages if m.channel == "in_app")
    keyring = await keyring_for(db)
    read = await message_mark_read(
        db, user_context(tenant, holder), keyring=keyring, message_id=in_app.id
    )
    assert read.status == "read" and read.read_at is not None
    with pytest.raises(NotFound):
        await message_mark_read(
            db, user_context(tenant, uuid.uuid4()), keyring=keyring, message_id=in_app.id
        )
    async with db.uow() as uow:
        history = (
            await uow.session.execute(
                select(MessageStatusChange.status)
                .where(MessageStatusChange.message_id == in_app.id)
                .order_by(MessageStatusChange.at, MessageStatusChange.id)
            )
        ).scalars()
        assert list(history) == ["queued", "delivered", "read"]


async def test_preferences_choose_channels_but_security_is_always_sent(
    db: Database, settings: Settings, smtp: tuple[Inbox, int], directory: Users
) -> None:
    tenant = directory.tenant_id
    admin = await directory.add("root@example.com", role="admin")
    me = user_context(tenant, admin)
    await preferences_set(db, me, category="transactions", channels=["in_app"])
    with pytest.raises(ValidationProblem):
        await preferences_set(db, me, category="security", channels=[])
    with pytest.raises(ValidationProblem):
        await preferences_set(db, me, category="transactions", channels=["pigeon"])
    await emit_relayed(db, tenant, "transfer.posted", transfer_payload(admin))
    await emit_relayed(
        db,
        tenant,
        "webhook.endpoint_disabled",
        {"endpoint_id": str(uuid.uuid4()), "url": "https://h.example", "reason": "410 Gone"},
    )
    await _dispatch(db, settings)
    channels = sorted((m.event_type, m.channel) for m in await messages_of(db, admin))
    assert channels == [
        ("transfer.posted", "in_app"),
        ("webhook.endpoint_disabled", "email"),
        ("webhook.endpoint_disabled", "in_app"),
    ]
    [mail] = smtp[0].messages
    assert mail["Subject"] == "Webhook endpoint disabled"


async def test_templates_are_checked_at_save_and_tenant_overrides_apply(
    db: Database, settings: Settings, smtp: tuple[Inbox, int], directory: Users
) -> None:
    tenant = directory.tenant_id
    holder = await directory.add("bob@example.com")
    admin = user_context(tenant, uuid.uuid4(), "templates:manage")
    with pytest.raises(ValidationProblem, match="undefined"):
        await template_save(
            db,
            admin,
            event_type="transfer.posted",
            channel="email",
            limits=RenderLimits(),
            body=Body(subject="Hi {{ customer_name }}", text="{{ leg.amount }}"),
        )
    with pytest.raises(ValidationProblem):
        await template_save(
            db,
            admin,
            event_type="transfer.posted",
            channel="email",
            limits=RenderLimits(),
            body=Body(subject="x", text="{{ ''.__class__.__mro__ }}"),
        )
    preview = template_preview(
        event_type="transfer.posted",
        channel="email",
        limits=RenderLimits(),
        body=Body(
            subject="Money in: {{ leg.amount | money(leg.currency) }}",
            text="ok",
            html="<b>{{ data.transfer_id }}</b>",
        ),
    )
    assert preview.subject == "Money in: 12.50 EUR"
    await template_save(
        db,
        admin,
        event_type="transfer.posted",
        channel="email",
        limits=RenderLimits(),
        body=Body(
            subject="Money moved: {{ leg.amount | money(leg.currency) }}",
            text="Ref {{ data.transfer_id }}",
            html="<i>{{ '<script>' }}</i>",
        ),
    )
    await emit_relayed(db, tenant, "transfer.posted", transfer_payload(holder, amount=99))
    await _dispatch(db, settings)
    [mail] = smtp[0].messages
    assert mail["Subject"] == "Money moved: 0.99 EUR"
    assert "&lt;script&gt;" in mail.get_body(("html",)).get_content()  # type: ignore[union-attr]


async def test_marketing_needs_opt_in_and_carries_one_click_unsubscribe(
    db: Database, settings: Settings, smtp: tuple[Inbox, int], directory: Users
) -> None:
    tenant = directory.tenant_id
    fan = await directory.add("fan@example.com")
    other = await directory.add("quiet@example.com")
    await preferences_set(db, user_context(tenant, fan), category="marketing", channels=["email"])
    campaign = {"subject": "Rates", "body": "Up.", "user_ids": [str(fan), str(other)]}
    await emit_relayed(db, tenant, "marketing.campaign_sent", campaign)
    await _dispatch(db, settings)
    [mail] = smtp[0].messages
    assert mail["To"] == "fan@example.com"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = mail["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://bank.example/v1/messaging/unsubscribe?token=")
    assert await messages_of(db, other) == [], "no opt-in, no marketing"
    token = link.split("token=", 1)[1]
    keyring = await keyring_for(db, settings)
    with pytest.raises(ValidationProblem):
        await marketing_unsubscribe(db, keyring=keyring, token=token + "x")
    await marketing_unsubscribe(db, keyring=keyring, token=token)
    await emit_relayed(db, tenant, "marketing.campaign_sent", campaign)
    await _dispatch(db, settings)
    assert len(smtp[0].messages) == 1, "unsubscribed with one click"


async def test_quiet_hours_and_hourly_cap_hold_messages_back(
    db: Database, clean_database: str, smtp: tuple[Inbox, int], directory: Users
) -> None:
    settings = make_settings(
        clean_database,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_security="none",
        messages_per_user_hour=2,
    )
    tenant = directory.tenant_id
    night_owl = await directory.add("owl@example.com")
    busy = await directory.add("busy@example.com")
    await profile_set(
        db,
        user_context(tenant, night_owl),
        keyring=await keyring_for(db),
        phone=None,
        timezone="Europe/Paris",
        quiet_start=time(22, 0),
        quiet_end=time(7, 0),
    )
    # 23:30 in Paris (UTC+1 in November).
    with clock.frozen_clock(datetime(2026, 11, 22, 22, 30, tzinfo=UTC)) as frozen:
        await emit_relayed(db, tenant, "transfer.posted", transfer_payload(night_owl))
        for _ in range(3):
            await emit_relayed(db, tenant, "transfer.posted", transfer_payload(busy))
        await _dispatch(db, settings)
        owl_email = next(m for m in await messages_of(db, night_owl) if m.channel == "email")
        assert owl_email.status == "queued"
        assert owl_email.next_attempt_at == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
        busy_emails = [m for m in await messages_of(db, busy) if m.channel == "email"]
        assert sorted(m.status for m in busy_emails) == ["queued", "sent", "sent"]
        frozen.advance(timedelta(hours=8))
        await _dispatch(db, settings)
    assert {m["To"] for m in smtp[0].messages} == {"owl@example.com", "busy@example.com"}
    assert len(smtp[0].messages) == 4


async def test_without_an_smtp_host_email_goes_to_the_maildir(
    db: Database, clean_database: str, tmp_path: object, directory: Users
) -> None:
    from pathlib import Path

    settings = make_settings(clean_database, data_dir=tmp_path)
    tenant = directory.tenant_id
    holder = await directory.add("dev@example.com")
    await emit_relayed(db, tenant, "transfer.posted", transfer_payload(holder))
    assert await _dispatch(db, settings) == 1
    stored = list((Path(str(tmp_path)) / "mail" / "new").iterdir())
    assert len(stored) == 1
    assert "Subject: Transfer posted: 12.50 EUR" in stored[0].read_text()


async def test_announcement_reaches_members_of_the_chosen_roles_in_app(
    db: Database, settings: Settings, directory: Users
) -> None:
    from fiscus.messaging.service import announcement_publish

    tenant = directory.tenant_id
    admin = await directory.add("a@example.com", role="admin")
    member = await directory.add("m@example.com", role="customer")
    ctx = user_context(tenant, admin, "messages:send")
    install_event_subscribers()
    await announcement_publish(db, ctx, title="Maintenance", body="Tonight.", roles=["admin"])
    while await events_relay_batch(db, keyring=await keyring_for(db)):
        pass
    [message] = await messages_of(db, admin)
    assert (message.channel, message.subject, message.body) == (
        "in_app",
        "Maintenance",
        "Tonight.",
    )
    assert await messages_of(db, member) == []


async def test_email_to_someone_who_is_not_a_member_fails_visibly(
    db: Database, settings: Settings, smtp: tuple[Inbox, int], directory: Users
) -> None:
    stranger = uuid.uuid4()
    await emit_relayed(db, directory.tenant_id, "transfer.posted", transfer_payload(stranger))
    assert await _dispatch(db, settings) == 1
    assert smtp[0].messages == []
    [email] = [m for m in await messages_of(db, stranger) if m.channel == "email"]
    assert email.status == "failed" and "no e-mail address" in (email.last_error or "")
