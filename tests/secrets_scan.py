"""Every response of the in-process `client` is checked for stored secrets.

After each test (before its tables are emptied) the secrets the database holds are read
(password hashes, TOTP secrets, refresh token, API key, reset token and backup code
hashes) and looked for in every response body the test received, in raw, hex and base64
forms. The one response allowed to show a TOTP secret is the enrolment that creates it.

The same encodings (`forms`) and the patterns below serve the scan of a whole live run's
artefacts (database dump, logs, webhooks, emails) in tests/security/test_secrets_at_rest.py,
and `find_personal_data` the check that a dump holds no personal data in clear outside the
places `PERSONAL_DATA_SOURCES` lists (each with its reason).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

import httpx
from sqlalchemy import text

from fiscus.core.db import Database
from fiscus.identity import sealed
from fiscus.identity.runtime import Identity

ENROLMENT_PATH = "/v1/me/mfa/totp"

_HASH_QUERIES = (
    "SELECT token_hash FROM refresh_tokens",
    "SELECT key_hash FROM api_keys",
    "SELECT token_hash FROM password_reset_tokens",
    "SELECT code_hash FROM mfa_backup_codes",
    "SELECT token_hash FROM mfa_challenges",
    "SELECT token_hash FROM email_changes",
)


class ResponseLog:
    """Bodies of the responses one test received, with the path that produced each."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, str, str]] = []

    async def record(self, response: httpx.Response) -> None:
        """httpx response hook."""
        await response.aread()
        self.bodies.append((response.request.method, response.request.url.path, response.text))


async def stored_secrets(db: Database, identity: Identity) -> tuple[list[str], list[str]]:
    """(secrets never to show, TOTP secrets shown only at enrolment) in the database."""
    never: list[str] = []
    totp: list[str] = []
    async with db.uow() as uow:
        for query in _HASH_QUERIES:
            for (value,) in await uow.session.execute(text(query)):
                never.extend(forms(bytes(value)).values())
        users = await uow.session.execute(
            text("SELECT tenant_id, id, password_hash, totp_secret_sealed FROM users")
        )
        for tenant_id, user_id, password_hash, totp_sealed in users:
            never.append(password_hash)
            never.append(password_hash.rsplit("$", 1)[-1])  # the digest part alone
            if totp_sealed is not None:
                totp.append(
                    sealed.unseal(
                        identity.keyring,
                        sealed.USER_TOTP,
                        tenant_id=tenant_id,
                        row_id=user_id,
                        sealed=bytes(totp_sealed),
                    )
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


# --- Artefacts of a whole run (database dump, logs, webhooks, emails) -------------------

# A JWT: three base64url segments, the first two JSON objects (`{"` encodes to `eyJ`).
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}")
# fiscus' opaque credentials; API keys keep a short display prefix (`fsk_` + 4), so only
# longer runs count as a key.
TOKEN_PATTERNS = {
    "API key": re.compile(r"fsk_[A-Za-z0-9_-]{12,}"),
    "refresh token": re.compile(r"fsr_[A-Za-z0-9_-]{12,}"),
    "password-reset token": re.compile(r"fsp_[A-Za-z0-9_-]{12,}"),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9+/=_-]{12,}"),
    "JWT": JWT,
    "password hash": re.compile(r"\$argon2id?\$v=\d+\$"),
}
# A run of 13-19 digits that is not part of a longer word, number or decimal fraction.
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z.])[0-9]{13,19}(?![0-9A-Za-z])")


def forms(secret: str | bytes) -> dict[str, str]:
    """The spellings a secret takes in stored or transmitted text, by encoding name.

    Raw, hex, base64 (standard and URL-safe, with and without padding), URL-encoded and
    JSON-escaped (ASCII-only and not). A secret inside a larger encoded blob at another
    byte offset is not found; raw values are what logs and dumps carry.
    """
    raw = secret if isinstance(secret, bytes) else secret.encode()
    found: dict[str, str] = {}
    if isinstance(secret, str):
        found["raw"] = secret
        found["url-encoded"] = quote(secret, safe="")
        found["url-encoded (plus)"] = quote_plus(secret)
        found["json-escaped"] = json.dumps(secret)[1:-1]
        found["json-escaped (unicode)"] = json.dumps(secret, ensure_ascii=False)[1:-1]
    found["hex"] = raw.hex()
    for name, encoded in (
        ("base64", base64.b64encode(raw).decode()),
        ("base64url", base64.urlsafe_b64encode(raw).decode()),
    ):
        found[name] = encoded
        found[name + " (unpadded)"] = encoded.rstrip("=")
    return found


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_numbers(text: str) -> list[str]:
    """Luhn-valid 13-19 digit runs: what a full card number (PAN) looks like."""
    return [m.group() for m in _DIGIT_RUN.finditer(text) if luhn_valid(m.group())]


@dataclass
class Artefact:
    """One thing a run left behind (a log, a dump section, a webhook, an email) to scan."""

    kind: str  # "log", "dump", "webhook" or "email"
    where: str  # e.g. "dump public.users", "webhook 3 body"
    text: str


@dataclass
class Finding:
    """A secret or pattern found in an artefact."""

    what: str
    encoding: str
    where: str

    def __str__(self) -> str:
        return f"{self.what} ({self.encoding}) in {self.where}"


def find_secrets(artefacts: list[Artefact], secrets: dict[str, str | bytes]) -> list[Finding]:
    """Every remembered secret, in any of its `forms`, found in any artefact."""
    found = []
    for name, secret in secrets.items():
        spellings = {form: value for form, value in forms(secret).items() if value}
        for artefact in artefacts:
            for form, value in spellings.items():
                if value in artefact.text:
                    found.append(Finding(name, form, artefact.where))
                    break
    return found


def find_patterns(artefacts: list[Artefact], patterns: dict[str, re.Pattern[str]]) -> list[Finding]:
    """Every match of a named pattern in any artefact (a shortened match as the encoding)."""
    return [
        Finding(name, match.group()[:12] + "...", artefact.where)
        for artefact in artefacts
        for name, pattern in patterns.items()
        for match in pattern.finditer(artefact.text)
    ]


def split_dump(dump: str) -> list[Artefact]:
    """A plain pg_dump as one artefact per table's data (COPY block) plus one for the rest."""
    sections: list[Artefact] = []
    schema: list[str] = []
    table: str | None = None
    rows: list[str] = []
    for line in dump.splitlines():
        if table is None:
            copy = re.match(r"COPY ([\w.\"]+) ", line)
            if copy:
                table, rows = copy.group(1).replace('"', ""), []
            else:
                schema.append(line)
        elif line == "\\.":
            sections.append(Artefact("dump", f"dump {table}", "\n".join(rows)))
            table = None
        else:
            rows.append(line)
    sections.append(Artefact("dump", "dump schema", "\n".join(schema)))
    return sections


# --- Personal data in a dump -------------------------------------------------------------


@dataclass(frozen=True)
class PersonalDataSources:
    """Where a dump may still hold personal data in clear, each place with its reason.

    Every other table of the dump is checked: a new table, or a new column of a checked
    one, that stores an email, a name or a phone number in clear fails the scan until it
    is sealed. `tables` exempts a whole table; `rows` exempts the lines of a table that
    match a pattern (a COPY line is one row, its columns separated by tabs).
    """

    tables: dict[str, str]
    rows: dict[str, tuple[re.Pattern[str], str]]

    def checked(self, dump: list[Artefact]) -> list[Artefact]:
        """The dump's sections with the exempt tables and rows left out."""
        kept = []
        for artefact in dump:
            table = artefact.where.removeprefix("dump ")
            if table in self.tables:
                continue
            pattern = self.rows.get(table)
            text = artefact.text
            if pattern is not None:
                text = "\n".join(line for line in text.splitlines() if not pattern[0].search(line))
            kept.append(Artefact(artefact.kind, artefact.where, text))
        return kept


# What the crypto branch could not seal yet, and why. After the identity branch (users'
# email and name sealed, audit changes and `user.*` payloads without them) is merged,
# delete the identity entries here: the scan then covers those tables too.
PERSONAL_DATA_SOURCES = PersonalDataSources(
    tables={
        "public.ledger_accounts": "ledger: names and metadata stored as the client sent them",
        "public.ledger_transfers": "ledger: descriptions and metadata as the client sent them",
    },
    rows={},
)


def find_personal_data(
    dump: list[Artefact],
    personal: dict[str, str],
    sources: PersonalDataSources = PERSONAL_DATA_SOURCES,
) -> list[Finding]:
    """Every piece of personal data, in any of its `forms`, in a checked part of a dump."""
    return find_secrets(sources.checked(dump), dict(personal))
