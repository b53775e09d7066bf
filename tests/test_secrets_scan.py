"""The scanners themselves: they must find a planted secret or piece of personal data in
any of its forms, in a unit-sized artefact and in a real dump."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg

from fiscus.core.db import libpq_url
from tests.live import fiscus_cli
from tests.secrets_scan import (
    PERSONAL_DATA_SOURCES,
    Artefact,
    ResponseLog,
    card_numbers,
    find_personal_data,
    find_secrets,
    forms,
    leaks,
    luhn_valid,
    split_dump,
)


def test_scanner_finds_hashes_in_raw_hex_and_base64_forms() -> None:
    digest = bytes(range(32))
    never = [digest.hex(), base64.b64encode(digest).decode(), "$argon2id$v=19$m=65536,t=3,p=4$abc"]
    log = ResponseLog()
    log.bodies = [
        ("GET", "/a", f'{{"x": "{digest.hex()}"}}'),
        ("GET", "/b", '{"ok": true}'),
        ("GET", "/c", '{"h": "$argon2id$v=19$m=65536,t=3,p=4$abc"}'),
        ("POST", "/v1/me/mfa/totp", '{"secret": "JBSWY3DP"}'),
        ("GET", "/v1/me", '{"secret": "JBSWY3DP"}'),
    ]
    found = leaks(log, never, ["JBSWY3DP"])
    assert found == [
        "GET /a contains a stored hash",
        "GET /c contains a stored hash",
        "GET /v1/me contains a TOTP secret",
    ]


def test_forms_cover_raw_hex_base64_url_and_json_spellings() -> None:
    secret = 'a"b/ü+c'
    spelled = forms(secret)
    raw = secret.encode()
    assert spelled["raw"] == secret
    assert spelled["hex"] == raw.hex()
    assert spelled["base64"] == base64.b64encode(raw).decode()
    assert spelled["base64url (unpadded)"] == base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert spelled["url-encoded"] == "a%22b%2F%C3%BC%2Bc"
    assert spelled["json-escaped"] == 'a\\"b/\\u00fc+c'
    log = Artefact("log", "server log", f'{{"event": "x", "v": "{raw.hex()}"}}')
    assert [str(f) for f in find_secrets([log], {"pw": secret})] == ["pw (hex) in server log"]


def test_card_numbers_are_luhn_valid_runs_outside_longer_words() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    text = "pan 4111111111111111, hex ab4111111111111111, ts 17:00:00.4111111111111111, x"
    assert card_numbers(text) == ["4111111111111111"]


def test_dump_is_split_per_table() -> None:
    dump = "CREATE TABLE t ();\nCOPY public.users (id, email) FROM stdin;\n1\ta@b.c\n\\.\nSET x;"
    parts = {a.where: a.text for a in split_dump(dump)}
    assert parts["dump public.users"] == "1\ta@b.c"
    assert "a@b.c" not in parts["dump schema"]


def test_personal_data_check_skips_only_the_listed_sources() -> None:
    email, name = "planted.person@example.com", "Plantée Person"
    dump = "\n".join(
        [
            "CREATE TABLE t ();",
            "COPY public.ledger_accounts (id, name) FROM stdin;",
            f"1\t{email}",
            "\\.",
            "COPY public.messages (id, content_sealed) FROM stdin;",
            f"2\t\\\\x{email.encode().hex()}",
            "\\.",
            "COPY public.events (id, tenant_id, type, subject, payload) FROM stdin;",
            f'3\tt\tuser.locked_out\tuser/1\t{{"email": "{email}"}}',
            f'4\tt\ttransfer.posted\tt/1\t{{"note": {json.dumps(name)}}}',
            "\\.",
        ]
    )
    found = find_personal_data(split_dump(dump), {"email": email, "name": name})
    assert sorted(str(f) for f in found) == [
        "email (hex) in dump public.messages",
        "email (raw) in dump public.events",
        "name (json-escaped) in dump public.events",
    ]
    assert "public.ledger_accounts" in PERSONAL_DATA_SOURCES.tables, "exemptions name reasons"
    assert "public.users" not in PERSONAL_DATA_SOURCES.tables
    assert all(reason for reason in PERSONAL_DATA_SOURCES.tables.values())


def test_personal_data_planted_in_a_real_dump_is_found(clean_database: str, tmp_path: Path) -> None:
    # Rows inserted by hand into tables the scan checks, in three spellings; a dump made by
    # `fiscus db dump` of that database must fail the check on each of them.
    personal = {
        "email": "planted.leak@example.com",
        "name": "Zoë Planted-Leak",
        "phone": "+447700900999",
    }
    tenant = uuid.uuid4()
    with psycopg.connect(libpq_url(clean_database)) as connection:
        connection.execute(
            "INSERT INTO message_templates (tenant_id, event_type, channel, subject, body_text,"
            " updated_at) VALUES (%s, 'transfer.posted', 'email', 'Hi', %s, now())",
            (tenant, f"Write to {personal['email']}"),
        )
        connection.execute(
            "INSERT INTO events (id, tenant_id, type, subject, payload, created_at)"
            " VALUES (%s, %s, 'announcement.published', 'a/1', %s, now())",
            (uuid.uuid4(), tenant, json.dumps({"body": _b64(personal["name"])})),
        )
        connection.execute(
            "INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, enabled,"
            " created_at, updated_at) VALUES (%s, %s, %s, '{x.y}', true, now(), now())",
            (tenant, uuid.uuid4(), "https://h.example/?to=" + quote(personal["phone"], safe="")),
        )
    dump = tmp_path / "planted.sql"
    made = fiscus_cli("db", "dump", "-o", str(dump), env={"FISCUS_DATABASE_URL": clean_database})
    assert made.returncode == 0, made.stderr
    found = find_personal_data(split_dump(dump.read_text(encoding="utf-8")), personal)
    assert sorted(str(f) for f in found) == [
        "email (raw) in dump public.message_templates",
        "name (base64) in dump public.events",
        "phone (url-encoded) in dump public.webhook_endpoints",
    ]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
