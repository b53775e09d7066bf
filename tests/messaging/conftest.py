"""Messaging test harness: a real SMTP server (aiosmtpd) and a user directory stand-in."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from fiscus.core.config import Settings
from fiscus.core.db import UnitOfWork
from fiscus.messaging import _recipients
from fiscus.messaging._recipients import Contact
from tests.conftest import make_settings


class Inbox:
    """aiosmtpd handler keeping every received message, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802 -- aiosmtpd's hook name
        content = envelope.content  # type: ignore[attr-defined]
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append(
            (envelope.mail_from, list(envelope.rcpt_tos))  # type: ignore[attr-defined]
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback; yields its inbox and port."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def settings(clean_database: str, smtp: tuple[Inbox, int], tmp_path: object) -> Settings:
    """Settings sending email to the test SMTP server."""
    return make_settings(
        clean_database,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_security="none",
        smtp_from="fiscus <no-reply@fiscus.test>",
        data_dir=tmp_path,
        public_url="https://bank.example",
    )


@dataclass
class StaticDirectory:
    """Stand-in for identity's directory until identity is on main: fixed users and roles."""

    contacts_by_id: dict[uuid.UUID, Contact] = field(default_factory=dict)
    roles: dict[uuid.UUID, str] = field(default_factory=dict)

    def add(self, email: str, role: str = "member") -> uuid.UUID:
        user_id = uuid.uuid4()
        self.contacts_by_id[user_id] = Contact(user_id, email, email.partition("@")[0])
        self.roles[user_id] = role
        return user_id

    async def contacts(
        self, uow: UnitOfWork, *, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Contact]:
        return {u: self.contacts_by_id[u] for u in user_ids if u in self.contacts_by_id}

    async def members(
        self, uow: UnitOfWork, *, tenant_id: uuid.UUID, roles: Sequence[str] | None
    ) -> list[uuid.UUID]:
        return [u for u, r in self.roles.items() if roles is None or r in roles]


@pytest.fixture
def directory() -> Iterator[StaticDirectory]:
    """A directory installed for the test and removed after it."""
    found = StaticDirectory()
    _recipients.install_directory(found)
    try:
        yield found
    finally:
        _recipients.install_directory(None)
