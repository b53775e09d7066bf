"""schemathesis hooks for tests/security/test_api_fuzz.py (loaded with SCHEMATHESIS_HOOKS).

Without them most money-moving requests stopped at the "Idempotency-Key required" 400 and
every /v1/me operation at "API keys have no profile". Before each call they:

* give every POST a fresh Idempotency-Key, and /v1/me/* a person's JWT;
* put real ids (accounts, pending and posted transfers, from FISCUS_FUZZ_STATE) where a
  body or path names an account or a transfer, most of the time, so posting, voiding and
  reversing run their business rules instead of answering 404;
* swap in hostile cursors and times (naive, garbage, out of range) some of the time: each
  must be a 400, never a 500 (the run's checks and the server log enforce that).
"""

from __future__ import annotations

import base64
import json
import os
import random
import uuid
from typing import Any

import schemathesis

STATE: dict[str, Any] = json.loads(os.environ.get("FISCUS_FUZZ_STATE", "{}"))
_random = random.Random(20261201)


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


HOSTILE_CURSORS = [
    _b64("5"),
    _b64("[5]"),
    _b64('{"id": 1}'),
    _b64("null"),
    _b64("[NaN]"),
    _b64("[" + "9" * 300 + "]"),
    _b64('["ledger_accounts.id", 5]'),
    _b64('["ledger_entries.account_version", 99999999999999999999]'),
    "!!!",
    "A" * 600,
]
HOSTILE_POSITIONS = ["-1", "\u00b2", "1e3", "9" * 19]
HOSTILE_TIMES = [
    "2026-11-22T14:05:00",
    "2026-11-22 14:05:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "2026-02-30T00:00:00Z",
    "garbage",
    "1732284300",
]
TIME_FIELDS = ("effective_at", "expires_at")
TIME_QUERIES = ("as_of", "occurred_after", "occurred_before")


def _often() -> bool:
    return _random.random() < 0.7


def _sometimes() -> bool:
    return _random.random() < 0.3


def _real_ids(body: Any) -> None:
    accounts = STATE.get("accounts") or []
    if not isinstance(body, dict) or not accounts:
        return
    for name in ("debit_account_id", "credit_account_id"):
        if name in body and _often():
            body[name] = _random.choice(accounts)
    if {"debit_account_id", "credit_account_id"} <= body.keys() and _often():
        body["debit_account_id"], body["credit_account_id"] = _random.sample(accounts, 2)
    for leg in body.get("legs") or []:
        if isinstance(leg, dict) and "account_id" in leg and _often():
            leg["account_id"] = _random.choice(accounts)
    if "currency" in body and _often():
        body["currency"] = "EUR"
    if isinstance(body.get("amount"), int) and _often():
        body["amount"] = _random.randint(1, 50)
    for item in body.get("transfers") or []:
        _real_ids(item)


def _hostile_times(body: Any) -> None:
    if isinstance(body, dict):
        for name in TIME_FIELDS:
            if name in body and _sometimes():
                body[name] = _random.choice(HOSTILE_TIMES)
        for item in body.get("transfers") or []:
            _hostile_times(item)


def _path_ids(case: Any) -> None:
    params = case.path_parameters or {}
    if "account_id" in params and _often() and STATE.get("accounts"):
        params["account_id"] = _random.choice(STATE["accounts"])
    if "transfer_id" in params and _often():
        path = case.operation.path
        pool = STATE.get("posted") if path.endswith("/reverse") else STATE.get("pending")
        if pool:
            params["transfer_id"] = _random.choice(pool)


def _query(case: Any) -> None:
    if case.method.upper() != "GET":
        return
    if case.query is None:
        case.query = {}
    query = case.query
    if not isinstance(query, dict):
        return
    if case.operation.path in STATE.get("lists", []) and _sometimes():
        query["cursor"] = _random.choice(HOSTILE_CURSORS)
    if case.operation.path == "/v1/events" and _sometimes():
        query["after"] = _random.choice(HOSTILE_POSITIONS)
    for name in TIME_QUERIES:
        if name in query and _sometimes():
            query[name] = _random.choice(HOSTILE_TIMES)


def _idempotency_key_wanted(case: Any, headers: dict[str, Any]) -> bool:
    """A fresh key where the case has one (generated values repeat, and a repeat would be a
    replay), or where the operation takes one optionally; a case without the key on an
    operation that requires it is schemathesis checking that the omission is refused."""
    if "Idempotency-Key" in headers:
        return True
    return not any(
        parameter.name.lower() == "idempotency-key" and parameter.is_required
        for parameter in case.operation.headers
    )


@schemathesis.auth(refresh_interval=None)
class Credentials:
    """The run's credentials, given to schemathesis as its own: a person's JWT for /v1/me,
    the tenant's API key elsewhere. Declared as auth (not added by a hook), schemathesis
    knows they are valid and can still probe each operation without them and with forged
    ones (its `ignored_auth` check); a hook would put them back into those probes."""

    def get(self, case: Any, context: Any) -> str | None:
        """The credential for this operation (not cached: it depends on the path)."""
        if case.operation.path.startswith("/v1/me") and STATE.get("jwt"):
            return str(STATE["jwt"])
        return str(STATE["key"]) if STATE.get("key") else None

    def set(self, case: Any, data: str | None, context: Any) -> None:
        """Send it as a bearer token."""
        if data is not None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """Make POSTs idempotent and aim the case at real or hostile values."""
    headers = case.headers if case.headers is not None else {}
    path = case.operation.path
    if case.method.upper() == "POST" and _idempotency_key_wanted(case, headers):
        headers["Idempotency-Key"] = uuid.uuid4().hex
    case.headers = headers
    if path.startswith("/v1/ledger"):
        _real_ids(case.body)
        _path_ids(case)
    _hostile_times(case.body)
    _query(case)
    if path == "/v1/tenant/settings" and isinstance(case.body, dict):
        # Requiring MFA for the owner would turn the run's own key into a 403 for every
        # later case (the requirement has its own tests); keep the run able to act.
        case.body.pop("mfa_required_roles", None)
