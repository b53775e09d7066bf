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
from fiscus.core.keyring import KeyRing, KeyRingError, KeyRingNotLoaded
from fiscus.messaging._channels import (
    ChannelError,
    EmailTransport,
    SmsProvider,
    email_transport,
    sms_provider,
)
from fiscus.messaging._recipients import directory
from fiscus.messaging._sealing import ADDRESS, LAST_ERROR, content_unseal, seal, unseal
from fiscus.messaging._secrets import secrets_expand
from fiscus.messaging._templates import SMS_MAX_CHARS, Rendered
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
            note = f"{reason} until {clock.rfc3339(until)}"
            await _history(uow, keyring, message, "queued", note)
            return True
        if message.address_sealed is None and not await _resolve_email(uow, keyring, message):
            return True
        try:
            await _send(uow, message, settings=settings, keyring=keyring, email=email, sms=sms)
        except ChannelError as error:
            await _failed_attempt(uow, keyring, message, error)
            return True
        now = clock.now()
        message.attempt_count += 1
        message.status, message.sent_at, message.next_attempt_at = "sent", now, None
        await _history(uow, keyring, message, "sent")
    return True


async def _resolve_email(uow: UnitOfWork, keyring: KeyRing, message: Message) -> bool:
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
        await _record_error(
            uow, keyring, message, "the user has no e-mail address (or is no longer a member)"
        )
        return False
    message.address_sealed = seal(keyring, ADDRESS, (message.tenant_id, message.id), contact.email)
    return True


async def _history(
    uow: UnitOfWork, keyring: KeyRing, message: Message, status: str, detail: str | None = None
) -> None:
    await uow.session.execute(
        insert(MessageStatusChange).values([status_change(keyring, message, status, detail=detail)])
    )


async def _record_error(
    uow: UnitOfWork, keyring: KeyRing, message: Message, error: str, *, retrying: bool = False
) -> None:
    """Keep the error (sealed: an SMTP or SMS refusal quotes the address) and its history."""
    error = error[:1000]
    message.last_error_sealed = seal(keyring, LAST_ERROR, (message.tenant_id, message.id), error)
    if retrying:
        await _history(uow, keyring, message, "queued", f"retrying after: {error}")
    else:
        await _history(uow, keyring, message, "failed", error)


async def _failed_attempt(
    uow: UnitOfWork, keyring: KeyRing, message: Message, error: ChannelError
) -> None:
    message.attempt_count += 1
    if error.permanent or message.attempt_count > len(RETRY_DELAYS):
        message.status, message.next_attempt_at = "failed", None
        await _record_error(uow, keyring, message, str(error))
        return
    message.next_attempt_at = clock.now() + RETRY_DELAYS[message.attempt_count - 1]
    await _record_error(uow, keyring, message, str(error), retrying=True)


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
    row = (message.tenant_id, message.id)
    address = unseal(keyring, ADDRESS, row, message.address_sealed)
    assert address is not None, "messages without an address fail at fan-out"
    stored = content_unseal(keyring, row, message.content_sealed)
    # Secrets are filled in here, in what is sent, and never in the stored message.
    try:
        subject, text, html = await secrets_expand(
            uow,
            keyring=keyring,
            tenant_id=message.tenant_id,
            event_id=message.event_id,
            event_type=message.event_type,
            texts=[stored.subject, stored.text, stored.html],
        )
    except KeyRingNotLoaded:
        raise
    except KeyRingError as error:
        # The event's sealed secret names a data key that was retired since (a reset email
        # queued across `fiscus keys rotate`): it can never be sent; ask for a new one.
        raise ChannelError(
            f"a secret of this message cannot be opened: {error}", permanent=True
        ) from None
    if message.channel == "sms":
        message.provider_id = await sms.send(to=address, body=(text or "")[:SMS_MAX_CHARS])
        return
    content = Rendered(subject=subject, text=text or "", html=html)
    await email.send(
        email_build(message, settings=settings, keyring=keyring, address=address, content=content)
    )
    message.provider_id = f"<{message.id}@fiscus>"


def email_build(
    message: Message, *, settings: Settings, keyring: KeyRing, address: str, content: Rendered
) -> EmailMessage:
    """The MIME email for a message: text and HTML, and RFC 8058 headers for marketing.

    `address` and `content` are the opened recipient and the text as sent (secrets filled in).
    """
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = address
    mail["Subject"] = content.subject or ""
    mail["Message-ID"] = f"<{message.id}@fiscus>"
    mail["X-Fiscus-Message-Id"] = str(message.id)
    if message.category == "marketing":
        token = token_make(keyring, Unsubscribe(message.tenant_id, message.user_id, "marketing"))
        url = f"{settings.public_url.rstrip('/')}/v1/messaging/unsubscribe?token={token}"
        mail["List-Unsubscribe"] = f"<{url}>"
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(content.text)
    if content.html:
        mail.add_alternative(content.html, subtype="html")
    return mail
