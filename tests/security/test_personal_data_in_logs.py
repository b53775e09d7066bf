"""Logs carry no recipient address, phone number or message text, and no database error
quotes a refused value (PostgreSQL's messages do: "Key (email)=(...) already exists")."""

from __future__ import annotations

import json
import mailbox
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fiscus.core.db import Database
from fiscus.core.http import Metrics, RequestMiddleware, install_error_handlers
from fiscus.core.logging import configure_logging
from fiscus.messaging import _channels
from fiscus.messaging._channels import ConsoleSms, MaildirTransport

EMAIL = "zelda.quixote.logs@example.com"
PHONE = "+33612345678"


def _log_lines(captured: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


class _Recorder:
    """Stands in for a module's logger: keeps every call (loggers are cached at first use
    with the level of the first configuration, so the suite's order decides what reaches
    stderr; the calls themselves do not depend on it)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []

    def info(self, event: str, **fields: object) -> None:
        self.calls.append((event, fields))


async def test_the_development_sinks_keep_messages_on_disk_and_out_of_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _Recorder()
    monkeypatch.setattr(_channels, "log", log)
    sms = ConsoleSms(tmp_path / "sms.log")
    await sms.send(to=PHONE, body="Your code is 424242")
    mail = EmailMessage()
    mail["To"], mail["Subject"] = EMAIL, "Salary of Zelda Quixote"
    mail.set_content("Dear Zelda")
    await MaildirTransport(tmp_path / "mail").send(mail)
    assert [event for event, _ in log.calls] == ["sms_to_console", "email_to_maildir"]
    logged = json.dumps([fields for _, fields in log.calls])
    for value in (PHONE, "424242", EMAIL, "Zelda"):
        assert value not in logged, value
    # The sinks themselves are the development "delivery": they hold the whole message.
    assert PHONE in (tmp_path / "sms.log").read_text()
    [stored] = list(mailbox.Maildir(tmp_path / "mail"))
    assert stored["To"] == EMAIL


async def test_a_database_error_is_logged_without_the_values_it_quotes(
    db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="INFO", json=True)
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestMiddleware, metrics=Metrics(), max_body_bytes=1024)

    @app.get("/duplicate")
    async def duplicate() -> None:
        async with db.uow() as uow:
            await uow.session.execute(
                text("CREATE TEMP TABLE probe_people (email text UNIQUE) ON COMMIT DROP")
            )
            await uow.session.execute(
                text("INSERT INTO probe_people VALUES (:email), (:email)"), {"email": EMAIL}
            )

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/duplicate")
    assert response.status_code == 500
    logged = capsys.readouterr().err
    assert EMAIL not in logged
    [failure] = [line for line in _log_lines(logged) if line["event"] == "unhandled_error"]
    assert failure["sqlstate"] == "23505" and failure["table"] == "probe_people"
    assert failure["frames"], "the log still says where it failed"
