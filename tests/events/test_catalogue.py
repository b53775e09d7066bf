"""docs/events.md lists every event type the code emits, with schemas that real payloads
satisfy, and no example anywhere names an event that does not exist."""

from __future__ import annotations

import ast
import importlib
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from fiscus.core.events import Event
from fiscus.events.catalogue import CATALOGUE, EVENT_TYPES, markdown
from fiscus.events.catalogue import main as catalogue_main
from tests.factories import Principal

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "fiscus"
_SQL_EVENT = re.compile(r"'([a-z_]+\.[a-z_]+)'")


def _emitted_in_python() -> set[str]:
    """The `type=` of every `emit(...)` call, and the webhook test type, resolved."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        module_name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        module_name = module_name.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "emit"):
                continue
            for keyword in node.keywords:
                if keyword.arg != "type":
                    continue
                if isinstance(keyword.value, ast.Constant):
                    found.add(keyword.value.value)
                elif isinstance(keyword.value, ast.Subscript):
                    # A look-up in a module-level table (`type=ORDER_EVENTS[verb]`): all of it.
                    assert isinstance(keyword.value.value, ast.Name), (path, keyword.value)
                    table = getattr(importlib.import_module(module_name), keyword.value.value.id)
                    found.update(table.values())
                else:
                    assert isinstance(keyword.value, ast.Name), (path, ast.dump(keyword.value))
                    found.add(getattr(importlib.import_module(module_name), keyword.value.id))
    from fiscus.webhooks.service import TEST_EVENT_TYPE

    return found | {TEST_EVENT_TYPE}


def _emitted_in_sql() -> set[str]:
    """Event types the ledger's SQL writes (migrations and versioned .sql files)."""
    texts = [p.read_text(encoding="utf-8") for p in (ROOT / "migrations").rglob("*.py")]
    texts += [p.read_text(encoding="utf-8") for p in SRC.rglob("*.sql")]
    return {
        match
        for text in texts
        if "INSERT INTO events" in text
        for match in _SQL_EVENT.findall(text)
        if match.startswith("transfer.")
    }


def test_docs_events_md_is_current() -> None:
    assert (ROOT / "docs" / "events.md").read_text(encoding="utf-8") == markdown(), (
        "docs/events.md is stale: run `python -m fiscus.events.catalogue`"
    )
    assert catalogue_main(["--check", "--output", str(ROOT / "docs" / "events.md")]) == 0


def test_the_check_command_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "events.md"
    stale.write_text(markdown().replace("transfer.voided", "transfer.gone"), encoding="utf-8")
    assert catalogue_main(["--check", "--output", str(stale)]) == 1
    assert catalogue_main(["--output", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == markdown()


def test_every_emitted_event_type_is_catalogued_and_nothing_else() -> None:
    emitted = _emitted_in_python() | _emitted_in_sql()
    assert {"transfer.posted", "transfer.reversed", "user.locked_out"} <= emitted
    assert emitted == EVENT_TYPES


def test_every_example_validates_against_its_schema() -> None:
    for spec in CATALOGUE:
        spec.payload.model_validate(spec.example)


async def _post(client: httpx.AsyncClient, who: Principal, path: str, body: Any) -> Any:
    headers = {**who.headers, "Idempotency-Key": uuid.uuid4().hex}
    response = await client.post(f"/v1{path}", json=body, headers=headers)
    assert response.status_code in {201, 202}, response.text
    return response.json()


async def test_real_payloads_match_the_catalogue(client, app, make_principal) -> None:
    owner = await make_principal(role="owner")
    accounts = []
    for side, kind in (("debit", "asset"), ("credit", "liability")):
        body = {"code": f"a-{side}", "name": side, "currency": "EUR", "type": kind}
        body |= {"normal_side": side, "metadata": {"holder_user_id": str(owner.user_id)}}
        accounts.append((await _post(client, owner, "/ledger/accounts", body))["id"])
    move = {"debit_account_id": accounts[0], "credit_account_id": accounts[1], "currency": "EUR"}
    posted = await _post(client, owner, "/ledger/transfers", {**move, "amount": 500})
    await _post(client, owner, f"/ledger/transfers/{posted['id']}/reverse", {})
    for action in ("post", "void"):
        held = await _post(
            client, owner, "/ledger/transfers", {**move, "amount": 7, "pending": True}
        )
        await _post(client, owner, f"/ledger/transfers/{held['id']}/{action}", {})
    await _post(client, owner, "/announcements", {"title": "Hello", "body": "World"})
    specs = {spec.type: spec for spec in CATALOGUE}
    async with app.state.db.uow(tenant_id=owner.tenant_id) as uow:
        rows = (await uow.session.execute(select(Event.type, Event.payload))).all()
    seen = set()
    for event_type, payload in rows:
        specs[event_type].payload.model_validate(payload)
        seen.add(event_type)
    expected = {"transfer.posted", "transfer.reversed", "transfer.pending", "transfer.voided"}
    assert seen >= {*expected, "announcement.published"}


def _event_names(value: Any, key: str | None = None) -> list[str]:
    if isinstance(value, dict):
        return [name for k, v in value.items() for name in _event_names(v, k)]
    if isinstance(value, list):
        return [name for item in value for name in _event_names(item, key)]
    if key in {"event_type", "event_types"} and isinstance(value, str):
        return [value]
    return []


def test_no_example_names_an_event_that_does_not_exist(app) -> None:
    document = app.openapi()
    names = _event_names(document)
    assert "transfer.posted" in names
    for name in names:
        prefix = name.removesuffix("*")
        assert name in EVENT_TYPES or (
            name.endswith("*") and any(t.startswith(prefix) for t in EVENT_TYPES)
        ), name
