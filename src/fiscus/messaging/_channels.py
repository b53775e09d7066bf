"""Channels to the outside: email over SMTP (or a local maildir sink), SMS providers.

With no SMTP host configured (the embedded default) email goes to a Maildir under the
data folder, so a developer sees every message without a mail server. SMS goes to a
console sink (a file in the data folder) unless a Twilio-compatible provider is
configured. Both development sinks hold whole messages, recipients included, on disk;
the log says only that a message went there, never to whom or what it said.
"""

from __future__ import annotations

import asyncio
import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib
import httpx

from fiscus.core.config import Settings
from fiscus.core.logging import get_logger
from fiscus.core.outbound import tls_context

log = get_logger("fiscus.messaging")


class ChannelError(Exception):
    """The provider refused or could not be reached; `permanent` means do not retry."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class EmailTransport(Protocol):
    """Hands a finished email to the outside world."""

    async def send(self, message: EmailMessage) -> None:
        """Send, or raise ChannelError."""
        ...


class SmtpTransport:
    """Real SMTP with aiosmtplib: STARTTLS, implicit TLS or plain, optional login."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        """Deliver to the configured SMTP server."""
        s = self.settings
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=password,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                timeout=s.smtp_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise ChannelError(f"recipient refused: {error}", permanent=True) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            raise ChannelError(f"{type(error).__name__}: {error}") from None


class MaildirTransport:
    """The embedded default: keep every email in `<data_dir>/mail` (Maildir)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        """Store the message in the Maildir."""
        key = await asyncio.to_thread(self._store, message)
        # The recipient and subject are personal data: the log names the file, not them.
        log.info("email_to_maildir", folder=str(self.folder), file=key)

    def _store(self, message: EmailMessage) -> str:
        return str(mailbox.Maildir(self.folder, create=True).add(message))


def email_transport(settings: Settings) -> EmailTransport:
    """SMTP when FISCUS_SMTP_HOST is set, else the local Maildir sink."""
    if settings.smtp_host:
        return SmtpTransport(settings)
    return MaildirTransport(settings.data_dir / "mail")


class SmsProvider(Protocol):
    """Sends one SMS and returns the provider's message id."""

    async def send(self, *, to: str, body: str) -> str:
        """Send, or raise ChannelError."""
        ...


class ConsoleSms:
    """Development sink: appends each SMS (number and text) to `<data_dir>/sms.log`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, *, to: str, body: str) -> str:
        """Record the message locally."""
        await asyncio.to_thread(self._append, to, body)
        # The number and the text are personal data (and a text can carry a code): the log
        # says where the message went, not to whom or what it said.
        log.info("sms_to_console", file=str(self.path), chars=len(body))
        return "console"

    def _append(self, to: str, body: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(f"{to}\t{body!r}\n")


class TwilioSms:
    """Twilio's Messages API (and compatible providers): form POST, basic auth, JSON back."""

    def __init__(
        self, *, base_url: str, account_sid: str, auth_token: str, sender: str, timeout_s: float
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.sender = sender
        self.timeout_s = timeout_s

    async def send(self, *, to: str, body: str) -> str:
        """POST the message; return its `sid`."""
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout_s, trust_env=False, verify=tls_context()
            ) as client:
                response = await client.post(
                    self.url, auth=self.auth, data={"To": to, "From": self.sender, "Body": body}
                )
        except httpx.HTTPError as error:
            raise ChannelError(f"{type(error).__name__}: {error}") from None
        if response.status_code in (200, 201):
            sid = response.json().get("sid")
            if isinstance(sid, str):
                return sid
            raise ChannelError("the provider answered without a message sid")
        detail = response.text[:300]
        # 4xx (bad number, unsubscribed recipient) will not get better by retrying; 429 will.
        permanent = 400 <= response.status_code < 500 and response.status_code != 429
        raise ChannelError(f"{response.status_code}: {detail}", permanent=permanent)


def sms_provider(settings: Settings) -> SmsProvider:
    """Twilio-compatible when configured, else the console sink."""
    if settings.sms_provider == "twilio":
        assert settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from
        return TwilioSms(
            base_url=settings.twilio_base_url,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            sender=settings.twilio_from,
            timeout_s=settings.smtp_timeout_s,
        )
    return ConsoleSms(settings.data_dir / "sms.log")
