"""Sending queued email and SMS: quiet hours, per-user rate caps, retries, status history.

Like webhook deliveries, each message is claimed with `FOR UPDATE SKIP LOCKED` and sent
inside that transaction, so a crashed worker leaves it queued for the next one
(at-least-once); the unique (event, user, channel) key keeps relays from doubling it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.keyring import KeyRing
from fiscus.messaging._channels import (
    ChannelError,
    EmailTransport,
    SmsProvider,
    email_transport,
    sms_provider,
)
from fiscus.messaging._recipients import directory
from fiscus.messaging._secrets import secrets_expand
from fiscus.messaging._templates import SMS_MAX_CHARS
from fiscus.messaging._unsubscribe import Unsubscribe, token_make
from fiscus.messaging.models import Message, MessageProfile, MessageStatusChange
from fiscus.messaging.service import status_change

RETRY_DELAYS = tuple(timedelta(seconds=s) for s in (60, 300, 1800, 7200))
RATE_WINDOW = timedelta(hours=1)
MAX_PER_RUN = 500


async def messages_dispatch(
    db: Database,
    *,
    settings: Settings,
    keyring: KeyRing,
    email: EmailTransport | None = None,
    sms: SmsProvider | None = None,
    max_messages: int = MAX_PER_RUN,
) -> int:
    """Send due email and SMS messages (at most `max_messages`); return how many were handled."""
    assert 1 <= max_messages <= 100_000
    email = email or email_transport(settings)
    sms = sms or sms_provider(settings)
    handled = 0
    while handled < max_messages and await message_send_next(
        db, settings=settings, keyring=keyring, email=email, sms=sms
    ):
        handled += 1
    return handled


async def message_send_next(
    db: Database,
    *,
    settings: Settings,
    keyring: KeyRing,
    email: EmailTransport,
    sms: SmsProvider,
) -> bool:
    """Claim one due message and send it (or hold it back); False when none is due."""
    async with db.uow() as uow:
        message = (
            await uow.session.execute(
                select(Message)
                .where(Message.status == "queued", Message.next_attempt_at <= clock.now())
                .order_by(Message.next_attempt_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if message is None:
            return False
        held = await _held_until(uow, message, settings=settings)
        if held is not None:
            until, reason = held
            message.next_attempt_at = until
            await _history(uow, message, "queued", f"{reason} until {clock.rfc3339(until)}")
            return True
        if message.address is None and not await _resolve_email(uow, message):
            return True
        try:
            await _send(uow, message, settings=settings, keyring=keyring, email=email, sms=sms)
        except ChannelError as error:
            await _failed_attempt(uow, message, error)
            return True
        now = clock.now()
        message.attempt_count += 1
        message.status, message.sent_at, message.next_attempt_at = "sent", now, None
        await _history(uow, message, "sent")
    return True


async def _resolve_email(uow: UnitOfWork, message: Message) -> bool:
    """Fill in the recipient's current e-mail address from the directory; fail without one."""
    found = directory()
    contacts = (
        await found.contacts(uow, tenant_id=message.tenant_id, user_ids=[message.user_id])
        if found is not None
        else {}
    )
    contact = contacts.get(message.user_id)
    if contact is None or not contact.email:
        message.status, message.next_attempt_at = "failed", None
        message.last_error = "the user has no e-mail address (or is no longer a member)"
        await _history(uow, message, "failed", message.last_error)
        return False
    message.address = contact.email
    return True


async def _history(
    uow: UnitOfWork, message: Message, status: str, detail: str | None = None
) -> None:
    await uow.session.execute(
        insert(MessageStatusChange).values([status_change(message, status, detail=detail)])
    )


async def _failed_attempt(uow: UnitOfWork, message: Message, error: ChannelError) -> None:
    message.attempt_count += 1
    message.last_error = str(error)[:1000]
    if error.permanent or message.attempt_count > len(RETRY_DELAYS):
        message.status, message.next_attempt_at = "failed", None
        await _history(uow, message, "failed", message.last_error)
        return
    message.next_attempt_at = clock.now() + RETRY_DELAYS[message.attempt_count - 1]
    await _history(uow, message, "queued", f"retrying after: {message.last_error}")


async def _held_until(
    uow: UnitOfWork, message: Message, *, settings: Settings
) -> tuple[datetime, str] | None:
    """When a non-security message must wait: quiet hours, then the hourly cap."""
    if message.category == "security":
        return None
    now = clock.now()
    profile = await uow.session.get(MessageProfile, (message.tenant_id, message.user_id))
    if profile is not None and profile.quiet_start is not None and profile.quiet_end is not None:
        quiet_end = _quiet_until(profile, now)
        if quiet_end is not None:
            return quiet_end, "quiet hours"
    recent = (
        await uow.session.execute(
            select(func.count(), func.min(Message.sent_at)).where(
                Message.tenant_id == message.tenant_id,
                Message.user_id == message.user_id,
                Message.channel.in_(("email", "sms")),
                Message.category != "security",
                Message.sent_at > now - RATE_WINDOW,
            )
        )
    ).one()
    count, oldest = recent
    if count >= settings.messages_per_user_hour and oldest is not None:
        return oldest + RATE_WINDOW, "hourly limit reached"
    return None


def _quiet_until(profile: MessageProfile, now: datetime) -> datetime | None:
    """The end of the quiet period `now` falls in, in UTC; None outside quiet hours."""
    assert profile.quiet_start is not None and profile.quiet_end is not None
    try:
        zone = ZoneInfo(profile.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone)
    start, end, at = profile.quiet_start, profile.quiet_end, local.time()
    # A window may wrap midnight (22:00-07:00).
    inside = start <= at < end if start <= end else (at >= start or at < end)
    if not inside:
        return None
    end_today = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if end_today <= local:
        end_today += timedelta(days=1)
    return end_today.astimezone(now.tzinfo)


async def _send(
    uow: UnitOfWork,
    message: Message,
    *,
    settings: Settings,
    keyring: KeyRing,
    email: EmailTransport,
    sms: SmsProvider,
) -> None:
    assert message.address is not None, "messages without an address fail at fan-out"
    # Secrets are filled in here, in what is sent, and never in the stored message.
    subject, text, html = await secrets_expand(
        uow,
        keyring=keyring,
        tenant_id=message.tenant_id,
        event_id=message.event_id,
        event_type=message.event_type,
        texts=[message.subject, message.body_text, message.body_html],
    )
    if message.channel == "sms":
        message.provider_id = await sms.send(to=message.address, body=(text or "")[:SMS_MAX_CHARS])
        return
    await email.send(
        email_build(message, settings=settings, subject=subject, text=text or "", html=html)
    )
    message.provider_id = f"<{message.id}@fiscus>"


def email_build(
    message: Message,
    *,
    settings: Settings,
    subject: str | None = None,
    text: str | None = None,
    html: str | None = None,
) -> EmailMessage:
    """The MIME email for a message: text and HTML, and RFC 8058 headers for marketing.

    `subject`, `text` and `html` override the stored ones (secrets filled in at send time).
    """
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = message.address or ""
    mail["Subject"] = (subject if subject is not None else message.subject) or ""
    mail["Message-ID"] = f"<{message.id}@fiscus>"
    mail["X-Fiscus-Message-Id"] = str(message.id)
    if message.category == "marketing":
        token = token_make(
            settings.resolved_secret_key,
            Unsubscribe(message.tenant_id, message.user_id, "marketing"),
        )
        url = f"{settings.public_url.rstrip('/')}/v1/messaging/unsubscribe?token={token}"
        mail["List-Unsubscribe"] = f"<{url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(text if text is not None else message.body_text)
    body_html = html if html is not None else message.body_html
    if body_html:
        mail.add_alternative(body_html, subtype="html")
    return mail
