"""The response scanner itself: it must find a planted secret in any of its forms."""

from __future__ import annotations

import base64

from tests.secrets_scan import ResponseLog, leaks


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
