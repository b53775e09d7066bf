"""Messaging test harness: a real SMTP server (aiosmtpd) and real users from identity."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.keyring import KeyRing
from fiscus.identity.service import user_provision
from fiscus.messaging import _recipients
from fiscus.messaging._directory import IdentityDirectory
from fiscus.worker import build_job_app, run_worker
from tests import factories
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
class Users:
    """Real users of one real tenant, created through identity (the directory reads them)."""

    db: Database
    tenant_id: uuid.UUID
    keyring: KeyRing

    async def add(self, email: str, role: str = "customer") -> uuid.UUID:
        """A new active member with `role`; returns the user id."""
        async with self.db.uow(tenant_id=self.tenant_id) as uow:
            user_id = await user_provision(
                uow,
                self.keyring,
                tenant_id=self.tenant_id,
                email=email,
                password=factories.PASSWORD,
                role=role,
            )
        return user_id


@pytest.fixture
async def directory(db: Database) -> AsyncIterator[Users]:
    """A tenant whose users messaging finds through identity, as the worker wires it."""
    tenant_id = await factories.tenant(db)
    keyring = await factories.keyring_for(db, make_settings(None))
    _recipients.install_directory(IdentityDirectory(db, keyring))
    try:
        yield Users(db, tenant_id, keyring)
    finally:
        _recipients.install_directory(None)


@asynccontextmanager
async def worker_running(db: Database, settings: Settings) -> AsyncIterator[None]:
    """The real job worker (relay, fan-out, dispatch) while the block runs."""
    job_app = build_job_app(settings.database_url or "")
    async with job_app.open_async():
        task = asyncio.create_task(
            run_worker(
                job_app,
                db=db,
                settings=settings,
                keyring=await factories.keyring_for(db, settings),
                install_signal_handlers=False,
            )
        )
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
