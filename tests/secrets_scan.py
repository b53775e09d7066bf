"""Every response of the in-process `client` is checked for stored secrets.

After each test (before its tables are emptied) the secrets the database holds are read
(password hashes, TOTP secrets, refresh token, API key, reset token and backup code
hashes) and looked for in every response body the test received, in raw, hex and base64
forms. The one response allowed to show a TOTP secret is the enrolment that creates it.
"""

from __future__ import annotations

import base64

import httpx
from sqlalchemy import text

from fiscus.core.db import Database
from fiscus.identity.crypto import unseal
from fiscus.identity.runtime import Identity

ENROLMENT_PATH = "/v1/me/mfa/totp"

_HASH_QUERIES = (
    "SELECT token_hash FROM refresh_tokens",
    "SELECT key_hash FROM api_keys",
    "SELECT token_hash FROM password_reset_tokens",
    "SELECT code_hash FROM mfa_backup_codes",
)


class ResponseLog:
    """Bodies of the responses one test received, with the path that produced each."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str, str]] = []

    async def record(self, response: httpx.Response) -> None:
        """httpx response hook."""
        await response.aread()
        self.bodies.append((response.request.method, response.request.url.path, response.text))


def _forms(secret: bytes) -> list[str]:
    return [
        secret.hex(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
    ]


async def stored_secrets(db: Database, identity: Identity) -> tuple[list[str], list[str]]:
    """(secrets never to show, TOTP secrets shown only at enrolment) in the database."""
    never: list[str] = []
    totp: list[str] = []
    async with db.uow() as uow:
        for query in _HASH_QUERIES:
            for (value,) in await uow.session.execute(text(query)):
                never.extend(_forms(bytes(value)))
        users = await uow.session.execute(
            text("SELECT id, password_hash, totp_secret_sealed FROM users")
        )
        for user_id, password_hash, sealed in users:
            never.append(password_hash)
            never.append(password_hash.rsplit("$", 1)[-1])  # the digest part alone
            if sealed is not None:
                totp.append(
                    unseal(identity.seal_key, bytes(sealed), context=user_id.bytes).decode()
                )
    return never, totp


def leaks(log: ResponseLog, never: list[str], totp: list[str]) -> list[str]:
    """Descriptions of the responses that contain a secret."""
    found = []
    for method, path, body in log.bodies:
        for secret in never:
            if secret and secret in body:
                found.append(f"{method} {path} contains a stored hash")
        if (method, path) != ("POST", ENROLMENT_PATH):
            found.extend(f"{method} {path} contains a TOTP secret" for s in totp if s and s in body)
    return found
