"""Template limits: output size and render time are capped at preview, save and send.

The review got 10 MB from a 30-character preview, had a saved template rendering 1 MB
accepted, and a loop over a huge range answered 500. Each way of asking a sandboxed
template for a huge value or endless work is refused with a precise problem type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import func, select, text

from fiscus.api import create_app
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.errors import PROBLEM_BASE
from fiscus.messaging.models import MessageTemplate
from tests.conftest import make_settings
from tests.factories import Principal, principal
from tests.messaging.conftest import Users
from tests.messaging.test_messages import emit_relayed, messages_of, transfer_payload

MakePrincipal = Callable[..., Awaitable[Principal]]
TOO_LARGE = PROBLEM_BASE + "template-output-too-large"
TOO_SLOW = PROBLEM_BASE + "template-render-too-slow"

# Each asks the sandbox for a value or an output far past the limit (100 000 characters).
HUGE_OUTPUTS = [
    '{{ "x" * 10000000 }}',  # the review's 10 MB from 30 characters
    "{{ 'ab' * 99999 }}",
    "{{ ['x'] * 10000000 }}",
    '{{ "%099999999d" % 1 }}',
    '{{ "{:>999999999}".format(1) }}',
    '{{ "{:{}}".format(1, 999999999) }}',
    '{{ "x".ljust(999999999) }}',
    '{{ "x".zfill(999999999) }}',
    '{{ "x" | center(999999999) }}',
    '{{ "%s" | format("x") | center(999999999) }}',
    '{% set s = "\n" * 50000 %}{{ s | indent(50000) }}',
    '{% set s = "x" * 90000 %}{{ s | replace("x", s) }}',
    '{% set s = "x" * 90000 %}{{ s.replace("x", s) }}',
    '{% set s = "x" * 99999 %}{{ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s }}',
    '{% set s = "x" * 60000 %}{{ s + s }}',
    "{{ 9 ** (9 ** 9) }}",
    '{% set ns = namespace(s="ab") %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}'
    "{% endfor %}",
    '{% for i in range(2000) %}{{ "y" * 1000 }}{% endfor %}',
    '{% set l = [] %}{% for i in range(99999) %}{{ l.append("x" * 99) }}{% endfor %}',
    '{{ ("x" * 99999) | list | join("ab") }}',
]
ENDLESS = [
    "{% for i in range(10**9) %}x{% endfor %}",  # the review's huge range (was a 500)
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "{% for a in 'x' * 99999 %}{% for b in 'y' * 99999 %}{% endfor %}{% endfor %}",
    "{% for i in range(99999) %}{% for j in range(99999) %}{{ '' }}{% endfor %}{% endfor %}",
]


def _preview(text_: str) -> dict[str, Any]:
    return {"event_type": "transfer.posted", "channel": "sms", "text": text_}


async def _problem(response: httpx.Response, type_: str) -> None:
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == type_, response.json()
    assert len(response.content) < 10_000


async def test_preview_refuses_huge_output_and_endless_loops(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    admin = (await make_principal(role="admin")).headers
    for template in HUGE_OUTPUTS:
        response = await client.post(
            "/v1/message-templates/preview", json=_preview(template), headers=admin
        )
        await _problem(response, TOO_LARGE)
    for template in ENDLESS:
        response = await client.post(
            "/v1/message-templates/preview", json=_preview(template), headers=admin
        )
        await _problem(response, TOO_SLOW)
    # Recursion is a broken template (400), not a server fault.
    recursive = "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"
    response = await client.post(
        "/v1/message-templates/preview", json=_preview(recursive), headers=admin
    )
    assert response.status_code == 400, response.text
    # A template within the limits still renders, loops and all.
    fine = "{% for i in range(3) %}{{ leg.amount | money(leg.currency) }} {% endfor %}"
    ok = await client.post("/v1/message-templates/preview", json=_preview(fine), headers=admin)
    assert ok.status_code == 200, ok.text
    assert ok.json()["text"] == "12.50 EUR 12.50 EUR 12.50 EUR "


async def _template_rows(db: Database) -> int:
    async with db.uow() as uow:
        return int(
            (await uow.session.execute(select(func.count(MessageTemplate.tenant_id)))).scalar_one()
        )


async def test_save_refuses_a_template_rendering_1_mb_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    admin = (await make_principal(role="admin")).headers
    path = "/v1/message-templates/transfer.posted/email"
    for body, type_ in (
        ({"subject": "s", "text": "{{ 'x' * 1048576 }}"}, TOO_LARGE),
        (
            {"subject": "s", "text": "{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}"},
            TOO_LARGE,
        ),
        ({"subject": "{{ 'x' * 1048576 }}", "text": "t"}, TOO_LARGE),
        ({"subject": "s", "text": "t", "html": "<p>{{ 'x' * 1048576 }}</p>"}, TOO_LARGE),
        ({"subject": "s", "text": ENDLESS[1]}, TOO_SLOW),
    ):
        await _problem(await client.put(path, json=body, headers=admin), type_)
    assert await _template_rows(db) == 0
    saved = await client.put(
        path, json={"subject": "s", "text": "{{ 'x' * 50000 }}"}, headers=admin
    )
    assert saved.status_code == 200, saved.text[:300]
    assert await _template_rows(db) == 1


@pytest.fixture
async def strict_app(clean_database: str) -> AsyncIterator[FastAPI]:
    """An app whose settings lower the limits."""
    settings = make_settings(clean_database, template_max_output_chars=1_000)
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=30, shutdown_timeout=30):
        yield application


async def test_the_limits_are_settings(strict_app: FastAPI) -> None:
    admin = await principal(strict_app, role="admin")
    transport = httpx.ASGITransport(app=strict_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        over = await http.post(
            "/v1/message-templates/preview",
            json=_preview("{{ 'x' * 1001 }}"),
            headers=admin.headers,
        )
        await _problem(over, TOO_LARGE)
        assert "1000 characters" in over.json()["detail"]
        within = await http.post(
            "/v1/message-templates/preview",
            json=_preview("{{ 'x' * 1000 }}"),
            headers=admin.headers,
        )
        assert within.status_code == 200
    for bad in ({"template_max_output_chars": 10}, {"template_max_render_ms": 0}):
        with pytest.raises(ValidationError, match="template_max"):
            make_settings(None, **bad)


async def test_send_fails_a_stored_template_over_the_limits_instead_of_building_it(
    db: Database, settings: Settings, directory: Users
) -> None:
    """Templates saved before the limits existed are checked again when they are sent."""
    tenant = directory.tenant_id
    holder = await directory.add("carol@example.com")
    async with db.uow(tenant_id=tenant) as uow:
        for channel, body in (("email", "{{ 'x' * 10000000 }}"), ("in_app", ENDLESS[1])):
            await uow.session.execute(
                text(
                    "INSERT INTO message_templates (tenant_id, event_type, channel, subject,"
                    " body_text, body_html, updated_at) VALUES (:t, 'transfer.posted', :c,"
                    " 'Subject', :b, NULL, now())"
                ),
                {"t": tenant, "c": channel, "b": body},
            )
    await emit_relayed(db, tenant, "transfer.posted", transfer_payload(holder))
    messages = {m.channel: m for m in await messages_of(db, holder)}
    assert set(messages) == {"email", "in_app"}
    for channel, reason in (("email", "characters"), ("in_app", "ms")):
        message = messages[channel]
        assert message.status == "failed", channel
        assert message.last_error is not None and reason in message.last_error, message.last_error
        assert message.body == ""
