"""What a real run leaves behind holds no secret: database dump, logs, webhooks, emails.

A live `fiscus serve` (API and in-process worker, DEBUG JSON logs to a file) is driven over
HTTP through every flow that handles a secret, with distinctive generated values that the
test remembers: tenant and owner made with the admin CLI (password in the environment),
failed logins, login, refresh-token rotation, logout, TOTP enrolment and an MFA login,
backup codes, password change, a password reset by email, API key creation and use,
webhook endpoint creation and secret rotation, a user added with a name and an email,
and ledger accounts and a transfer whose name, description and metadata look personal.
A real webhook receiver is subscribed to `*` and a real SMTP server takes the emails.

Then a `pg_dump` (through `fiscus db dump`, which picks a client matching the server),
the server's log, the CLI's output, every webhook body and header and every email are
scanned for each remembered secret in raw, hex, base64 (standard and URL-safe, padded or
not), URL-encoded and JSON-escaped form, and for patterns: JWTs, `fsk_`/`fsr_`/`fsp_`
tokens, `whsec_` secrets, argon2 hashes, and Luhn-valid 13-19 digit runs (card numbers).

Allowed places, each explicit:
- argon2 password hashes: only in the dump's `users` table; keys, tokens and backup codes
  only as hashes; TOTP and webhook secrets only sealed (AES-GCM).
- the password-reset token: only in the reset email, the channel that delivers it.
- personal data (every email, name and phone number the run used, including a customer's
  SMS number and the messages sent to them): in emails to their own recipient only, never
  in logs, and in the dump only sealed with the key ring, except in the places
  `PERSONAL_DATA_SOURCES` (tests/secrets_scan.py) lists with their reason: the ledger's
  free-text fields, stored as the client sent them. Every other table is checked, so a new
  one that stores personal data in clear fails.
  Webhooks carry only the keys each event type documents (a closed list below: a new key
  or event type fails here until it is reviewed and documented).
- card numbers: fiscus has no cards module yet, so nothing validates free text against
  PANs; a PAN a client types into a transfer description is stored in that row as sent.
  The test plants one there and proves it stays there: no log, webhook or email carries
  it, and the dump holds no other Luhn-valid card-length number anywhere.

The Idempotency-Key replay table used to keep response bodies in clear, with the webhook
signing secrets of create and rotate (and the personal data of a created user) for 24 h,
and a plain SHA-256 of the request body (an offline guessing target for the password in
a user creation); it now seals the bodies and keys the fingerprint. This test is its
regression test.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
import pyotp
import pytest
from aiosmtpd.controller import Controller

from fiscus.core.migrate import upgrade
from tests.conftest import TEST_SECRET, recreate_database, scratch_database_name
from tests.live import free_port, live_server
from tests.messaging.conftest import Inbox
from tests.secrets_scan import (
    TOKEN_PATTERNS,
    Artefact,
    Finding,
    card_numbers,
    find_patterns,
    find_personal_data,
    find_secrets,
    split_dump,
)
from tests.webhooks.receiver import Receiver, running

pytestmark = pytest.mark.xdist_group("secrets-live")

TIMEOUT_S = 90.0
PAN = "4111111111111111"  # a well-known test card number (Luhn-valid)
# The keys each event type's `data` may carry (docs/identity.md, the ledger's event
# function, webhooks' test event). Anything else reaching a webhook fails the test.
EVENT_DATA_KEYS: dict[str, set[str]] = {
    "transfer.posted": {"transfer_id", "status", "kind", "currency", "parent_id", "legs"},
    "user.locked_out": {"user_id", "locked_for_s"},
    "user.password_reset_requested": {"user_id", "tenant", "expires_at", "token_sealed"},
    "webhook.test": {"message", "endpoint_id"},
}
LEG_KEYS = {"account_id", "direction", "amount", "currency", "holder_user_id"}


@dataclass
class Run:
    """What the run produced, and every secret and piece of personal data it used."""

    secrets: dict[str, str | bytes] = field(default_factory=dict)
    reset_tokens: dict[str, str] = field(default_factory=dict)
    totp_codes: dict[str, str] = field(default_factory=dict)
    personal: dict[str, str] = field(default_factory=dict)
    logs: list[Artefact] = field(default_factory=list)
    dump: list[Artefact] = field(default_factory=list)
    webhooks: list[Artefact] = field(default_factory=list)
    webhook_bodies: list[dict[str, Any]] = field(default_factory=list)
    emails: list[Artefact] = field(default_factory=list)

    def remember(self, name: str, value: str) -> str:
        """Keep `value` as a secret that must not be found; return it."""
        assert value, name
        self.secrets[name] = value
        return value


def _password(run: Run, name: str) -> str:
    # A quote, a backslash and a non-ASCII letter make escaping show in every encoding.
    return run.remember(name, f'Pw-{secrets.token_hex(10)}-"ü\\-{name[:6]}')


def _cli(env: dict[str, str], *args: str, extra: dict[str, str] | None = None) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "fiscus.cli", *args],
        env={**env, **(extra or {})},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout + made.stderr


def _eventually(check: Callable[[], bool], what: Callable[[], str]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"never happened: {what()}")


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, (response.request.url.path, response.text)
    return response.json() if response.content else {}


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


@dataclass
class Flows:
    """The HTTP flows, run one after another against the live server."""

    http: httpx.Client
    run: Run
    tenant: str
    owner_email: str
    owner_password: str
    receiver_url: str
    inbox: Inbox

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def login(self, email: str, password: str) -> dict[str, Any]:
        body = {"tenant": self.tenant, "email": email, "password": password}
        return _ok(self.http.post("/v1/auth/login", json=body))

    def tokens(self, name: str, pair: dict[str, Any]) -> str:
        self.run.remember(f"{name} access token", pair["access_token"])
        self.run.remember(f"{name} refresh token", pair["refresh_token"])
        return str(pair["access_token"])

    def sessions(self) -> str:
        """Failed logins, login, refresh rotation; returns an access token."""
        for n in range(3):
            wrong = _password(self.run, f"wrong password {n}")
            body = {"tenant": self.tenant, "email": self.owner_email, "password": wrong}
            assert self.http.post("/v1/auth/login", json=body).status_code == 401
        first = self.login(self.owner_email, self.owner_password)
        self.tokens("first login", first)
        refreshed = _ok(
            self.http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        )
        return self.tokens("refreshed", refreshed)

    def webhook_endpoint(self, token: str) -> str:
        created = _ok(
            self.http.post(
                "/v1/webhook-endpoints",
                json={"url": self.receiver_url, "event_types": ["*"], "description": "all"},
                headers={**self.bearer(token), **_key()},
            ),
            201,
        )
        self.run.remember("webhook secret", created["secret"])
        rotated = _ok(
            self.http.post(
                f"/v1/webhook-endpoints/{created['id']}/rotate-secret",
                json={"overlap_s": 3600},
                headers={**self.bearer(token), **_key()},
            )
        )
        self.run.remember("rotated webhook secret", rotated["secret"])
        _ok(
            self.http.post(
                f"/v1/webhook-endpoints/{created['id']}/test", headers=self.bearer(token)
            ),
            202,
        )
        return str(created["id"])

    def api_key(self, token: str) -> dict[str, str]:
        made = _ok(
            self.http.post(
                "/v1/api-keys",
                json={"name": "secrets-scan", "role": "owner"},
                headers=self.bearer(token),
            ),
            201,
        )
        key = self.run.remember("API key", made["key"])
        _ok(self.http.get("/v1/tenant", headers=self.bearer(key)))
        return self.bearer(key)

    def customer(self, key: dict[str, str]) -> tuple[str, str, str]:
        """A user with a name and email; returns (user id, email, password)."""
        tag = secrets.token_hex(4)
        email = self.run.personal.setdefault("customer email", f"zelda.quixote.{tag}@example.com")
        name = self.run.personal.setdefault("customer name", f"Zelda Quixote-{tag}")
        password = _password(self.run, "customer password")
        made = _ok(
            self.http.post(
                "/v1/users",
                json={
                    "email": email,
                    "display_name": name,
                    "role": "customer",
                    "password": password,
                },
                headers={**key, **_key()},
            ),
            201,
        )
        return str(made["id"]), email, password

    def customer_profile(self, email: str, password: str) -> str:
        """The customer's SMS number and channels, set through the API; returns the number."""
        mobile = self.run.personal.setdefault(
            "customer mobile", f"+4477009{secrets.randbelow(10**5):05d}"
        )
        token = self.tokens("customer first login", self.login(email, password))
        profile = {"phone": mobile, "timezone": "Europe/Madrid"}
        _ok(self.http.put("/v1/me/message-profile", json=profile, headers=self.bearer(token)), 204)
        choice = {"category": "transactions", "channels": ["email", "sms", "in_app"]}
        _ok(self.http.put("/v1/me/message-preferences", json=choice, headers=self.bearer(token)))
        return mobile

    def ledger(self, key: dict[str, str], holder: str) -> None:
        personal = self.run.personal
        tag = secrets.token_hex(4)
        phone = personal.setdefault("phone", f"+44 7700 9{secrets.randbelow(10**5):05d}")
        address = personal.setdefault("address", f"{tag} Quixote Lane, Toboso")
        iban = personal.setdefault("IBAN", f"GB{secrets.randbelow(90) + 10}FSCS{tag}00112233")

        def account(code: str, name: str, kind: str, side: str, meta: dict[str, str]) -> str:
            body = {
                "code": code,
                "name": name,
                "currency": "EUR",
                "type": kind,
                "normal_side": side,
                "metadata": meta,
            }
            made = _ok(
                self.http.post("/v1/ledger/accounts", json=body, headers={**key, **_key()}), 201
            )
            return str(made["id"])

        equity = account("equity", "Equity", "equity", "debit", {})
        current = account(
            f"cust-{tag}",
            f"Current account of {personal['customer name']}",
            "liability",
            "credit",
            {"holder_user_id": holder, "phone": phone, "address": address, "iban": iban},
        )
        transfer = {
            "debit_account_id": equity,
            "credit_account_id": current,
            "amount": 12345,
            "currency": "EUR",
            "description": f"Salary of {personal['customer name']}, card {PAN}",
            "metadata": {"payer_phone": phone, "payee_iban": iban},
        }
        _ok(self.http.post("/v1/ledger/transfers", json=transfer, headers={**key, **_key()}), 201)

    def mfa(self, token: str, secret_name: str) -> tuple[pyotp.TOTP, list[str]]:
        """Enrol TOTP after a re-authentication; returns the TOTP and the backup codes."""
        _ok(
            self.http.post(
                "/v1/me/reauthenticate",
                json={"password": self.owner_password},
                headers=self.bearer(token),
            ),
            204,
        )
        enrolment = _ok(self.http.post("/v1/me/mfa/totp", headers=self.bearer(token)))
        self.run.remember(secret_name, enrolment["secret"])
        self.run.remember("otpauth URI", enrolment["otpauth_uri"])
        totp = pyotp.TOTP(enrolment["secret"])
        code = self.run.totp_codes.setdefault("TOTP code at enrolment", totp.now())
        codes = _ok(
            self.http.post(
                "/v1/me/mfa/totp/confirm", json={"code": code}, headers=self.bearer(token)
            )
        )["backup_codes"]
        for n, backup in enumerate(codes):
            self.run.remember(f"backup code {n}", backup)
        return totp, codes

    def mfa_login(self, password: str, backup_code: str) -> str:
        challenge = self.login(self.owner_email, password)
        assert challenge["mfa_required"] is True
        self.run.remember("MFA challenge token", challenge["mfa_token"])
        wrong = {"mfa_token": challenge["mfa_token"], "code": "000000"}
        assert self.http.post("/v1/auth/mfa/verify", json=wrong).status_code in (401, 422)
        verified = _ok(
            self.http.post(
                "/v1/auth/mfa/verify",
                json={"mfa_token": challenge["mfa_token"], "code": backup_code},
            )
        )
        return self.tokens("MFA login", verified)

    def password_reset(self, backup_code: str) -> str:
        """Reset the owner's password with the emailed token; returns the new password."""
        before = len(self.inbox.messages)
        _ok(
            self.http.post(
                "/v1/auth/password-reset", json={"tenant": self.tenant, "email": self.owner_email}
            ),
            202,
        )
        # Other messages (a message rule's "transfer posted" email, sent by the worker
        # process in its own time) may arrive in between: the reset email is the one
        # sent to the owner after the request.

        def reset_tokens() -> list[str]:
            return [
                word
                for mail in self.inbox.messages[before:]
                if self.owner_email in str(mail["To"])
                for word in _words(_email_text(mail))
                if word.startswith("fsp_")
            ]

        _eventually(lambda: bool(reset_tokens()), lambda: "the reset email")
        token = reset_tokens()[0]
        self.run.reset_tokens["password-reset token"] = token
        new_password = _password(self.run, "reset password")
        _ok(
            self.http.post(
                "/v1/auth/password-reset/confirm",
                json={"token": token, "new_password": new_password, "code": backup_code},
            ),
            204,
        )
        return new_password


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9_\-]+", text)


def _email_text(mail: EmailMessage) -> str:
    # Message-ID and a multipart boundary (in Content-Type) hold random numbers of up to 19
    # digits: structure, not content, and a card-number look-alike one time in ten.
    parts = [
        f"{name}: {value}"
        for name, value in mail.items()
        if name.lower() not in ("message-id", "content-type")
    ]
    for part in mail.walk():
        if not part.is_multipart():
            parts.append(str(part.get_content()))
    return "\n".join(parts)


def _drive(flows: Flows, run: Run) -> None:
    token = flows.sessions()
    flows.webhook_endpoint(token)
    key = flows.api_key(token)
    holder, customer_email, customer_password = flows.customer(key)
    flows.customer_profile(customer_email, customer_password)
    flows.ledger(key, holder)
    _, backup = flows.mfa(token, "TOTP secret")
    _ok(flows.http.post("/v1/auth/logout", headers=flows.bearer(token)), 204)
    token = flows.mfa_login(flows.owner_password, backup[0])
    changed = _password(run, "changed password")
    _ok(
        flows.http.post(
            "/v1/me/password",
            json={"current_password": flows.owner_password, "new_password": changed},
            headers=flows.bearer(token),
        ),
        204,
    )
    flows.owner_password = changed
    flows.owner_password = flows.password_reset(backup[1])
    flows.mfa_login(flows.owner_password, backup[2])
    flows.tokens("customer login", flows.login(customer_email, customer_password))
    # Wrong passwords for the customer too (below the back-off threshold: a lockout would
    # take half a minute of back-off waits; its event's keys are still checked below).
    for n in range(3):
        wrong = _password(run, f"customer wrong password {n}")
        body = {"tenant": flows.tenant, "email": customer_email, "password": wrong}
        assert flows.http.post("/v1/auth/login", json=body).status_code == 401


@pytest.fixture(scope="module")
def run(server_url: str, worker_id: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Drive every flow on a live server, then collect its dump, logs, webhooks, emails."""
    url = recreate_database(server_url, scratch_database_name("secrets", worker_id))
    upgrade(url)
    folder = tmp_path_factory.mktemp("secrets")
    log = folder / "server.log"
    result = Run()
    tag = secrets.token_hex(4)
    tenant = f"sec-{tag}"
    owner_email = result.personal.setdefault("owner email", f"ottilie.brandt.{tag}@example.com")
    owner_name = result.personal.setdefault("owner name", f"Ottilie Brandtner-{tag}")
    owner_password = _password(result, "owner password")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FISCUS_")}
    env |= {
        "FISCUS_DATABASE_URL": url,
        "FISCUS_SECRET_KEY": TEST_SECRET,
        "FISCUS_ENV": "test",
        "FISCUS_LOG_LEVEL": "DEBUG",
    }
    result.remember("installation secret key", TEST_SECRET)
    cli_output = [
        _cli(env, "admin", "create-tenant", tenant, "--name", "Secrets Bank"),
        _cli(
            env,
            "admin",
            "create-user",
            "--tenant",
            tenant,
            "--email",
            owner_email,
            "--role",
            "owner",
            "--name",
            owner_name,
            extra={"FISCUS_PASSWORD": owner_password},
        ),
    ]
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        with running(Receiver()) as receiver:
            extra = {
                "FISCUS_LOG_LEVEL": "DEBUG",
                "FISCUS_WEBHOOKS_ALLOW_PRIVATE": "true",
                "FISCUS_IP_REQUESTS_PER_MINUTE": "1000000",
                "FISCUS_SMTP_HOST": "127.0.0.1",
                "FISCUS_SMTP_PORT": str(smtp.port),
                "FISCUS_SMTP_SECURITY": "none",
                "FISCUS_PUBLIC_URL": "https://bank.example",
                # The console SMS sink writes here (a development sink: it holds the SMS).
                "FISCUS_DATA_DIR": str(folder / "data"),
            }
            with live_server(url, log_file=log, extra_env=extra) as server:
                with httpx.Client(base_url=server.base_url, timeout=60) as http:
                    flows = Flows(
                        http,
                        result,
                        tenant,
                        owner_email,
                        owner_password,
                        receiver.url + "/hooks",
                        inbox,
                    )
                    _drive(flows, result)

                def delivered() -> bool:
                    types = {json.loads(r.body)["type"] for r in list(receiver.requests)}
                    return set(EVENT_DATA_KEYS) - {"user.locked_out"} <= types

                _eventually(
                    delivered,
                    lambda: (
                        "a webhook of every event type, got "
                        + str([json.loads(r.body)["type"] for r in list(receiver.requests)])
                    ),
                )
                _eventually(
                    lambda: len(inbox.messages) >= 2,
                    lambda: f"the reset and transfer emails, got {len(inbox.messages)}",
                )
                sms_log = folder / "data" / "sms.log"
                _eventually(
                    lambda: (
                        sms_log.exists()
                        and result.personal["customer mobile"] in sms_log.read_text()
                    ),
                    lambda: "the transfer SMS in the console sink",
                )
                dump = folder / "dump.sql"
                cli_output.append(_cli(env, "db", "dump", "-o", str(dump)))
            for n, request in enumerate(receiver.requests):
                result.webhook_bodies.append(json.loads(request.body))
                result.webhooks.append(
                    Artefact("webhook", f"webhook {n} body", request.body.decode())
                )
                result.webhooks.append(
                    Artefact("webhook", f"webhook {n} headers", json.dumps(request.headers))
                )
    finally:
        smtp.stop()
    result.logs = [
        Artefact("log", "server log", log.read_text(encoding="utf-8", errors="replace")),
        Artefact("log", "CLI output", "\n".join(cli_output)),
    ]
    result.dump = split_dump(dump.read_text(encoding="utf-8"))
    result.emails = [
        Artefact("email", f"email {n} to {mail['To']}", _email_text(mail))
        for n, mail in enumerate(inbox.messages)
    ]
    return result


def _everything(run: Run) -> list[Artefact]:
    return [*run.logs, *run.dump, *run.webhooks, *run.emails]


def test_the_run_produced_every_artefact(run: Run) -> None:
    # The scan below is only as good as what it reads: real logs at DEBUG, a full dump,
    # webhooks of each event type, and both emails.
    server_log = run.logs[0].text
    assert '"level": "debug"' in server_log and '"event": "request"' in server_log
    tables = {artefact.where for artefact in run.dump}
    for table in ("users", "api_keys", "refresh_tokens", "webhook_secrets", "idempotency_keys"):
        assert f"dump public.{table}" in tables, tables
    # The messaging tables hold the run's messages (email, SMS, in-app) and the SMS number.
    rows = {a.where: len(a.text.splitlines()) for a in run.dump}
    assert rows["dump public.messages"] >= 4, rows  # reset email; transfer email, SMS, in-app
    assert rows["dump public.message_profiles"] >= 1, rows
    # The replay table holds the create/rotate responses (the sealing's regression).
    [replays] = [a for a in run.dump if a.where == "dump public.idempotency_keys"]
    assert len(replays.text.splitlines()) >= 3
    assert len(run.emails) >= 2
    assert any("password-reset token" in name for name in run.reset_tokens)


def test_no_secret_in_dump_logs_webhooks_or_emails(run: Run) -> None:
    found = find_secrets(_everything(run), run.secrets)
    assert not found, [str(f) for f in found]


def test_reset_token_only_in_its_email(run: Run) -> None:
    found = find_secrets([*run.logs, *run.dump, *run.webhooks], dict(run.reset_tokens))
    assert not found, [str(f) for f in found]
    assert find_secrets(run.emails, dict(run.reset_tokens)), "the reset email carries its token"


def test_no_totp_code_in_logs_or_webhooks(run: Run) -> None:
    # Six digits also occur by chance in a dump (microseconds); logs and webhooks are where
    # a code would be echoed. Bounded so a timestamp's fraction is not a match.
    for name, code in run.totp_codes.items():
        pattern = re.compile(rf"(?<![0-9A-Za-z.]){code}(?![0-9A-Za-z])")
        for artefact in [*run.logs, *run.webhooks]:
            assert not pattern.search(artefact.text), f"{name} in {artefact.where}"


def test_no_credential_pattern_anywhere(run: Run) -> None:
    # argon2 hashes belong in the users table; everything else nowhere.
    found = [
        finding
        for finding in find_patterns(_everything(run), TOKEN_PATTERNS)
        if (finding.what, finding.where) != ("password hash", "dump public.users")
        and not (finding.what == "password-reset token" and finding.where.startswith("email"))
    ]
    assert not found, [str(f) for f in found]


def test_no_personal_data_in_logs(run: Run) -> None:
    found = find_secrets(run.logs, dict(run.personal))
    assert not found, [str(f) for f in found]


def test_no_personal_data_in_the_dump_outside_the_listed_sources(run: Run) -> None:
    # Every email, name and phone number the run used, in every encoding `forms` knows:
    # sealed everywhere but the places PERSONAL_DATA_SOURCES lists, each with its reason.
    assert {"owner email", "customer name", "customer mobile"} <= set(run.personal)
    found = find_personal_data(run.dump, run.personal)
    assert not found, [str(f) for f in found]


def test_card_number_stays_in_the_row_it_was_typed_into(run: Run) -> None:
    found = [
        Finding("card number", pan, artefact.where)
        for artefact in _everything(run)
        for pan in card_numbers(artefact.text)
    ]
    assert [(f.encoding, f.where) for f in found] == [(PAN, "dump public.ledger_transfers")], [
        str(f) for f in found
    ]


def test_webhooks_carry_only_documented_keys(run: Run) -> None:
    assert run.webhook_bodies
    for body in run.webhook_bodies:
        assert set(body) <= {
            "id",
            "type",
            "timestamp",
            "created_at",
            "tenant_id",
            "subject",
            "position",
            "data",
        }, body
        assert set(body["data"]) <= EVENT_DATA_KEYS[body["type"]], body
        for leg in body["data"].get("legs", []):
            assert set(leg) <= LEG_KEYS, body
    # Personal data the client typed (names, phone, address, IBAN) never rides along.
    personal = {k: v for k, v in run.personal.items() if k != "customer email"}
    found = find_secrets(run.webhooks, personal)
    assert not found, [str(f) for f in found]
