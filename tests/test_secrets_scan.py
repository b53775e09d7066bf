"""The response scanner itself: it must find a planted secret in any of its forms."""

from __future__ import annotations

import base64

from tests.secrets_scan import (
    Artefact,
    ResponseLog,
    card_numbers,
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
