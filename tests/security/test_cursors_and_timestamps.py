"""Every cursor and every time the API takes is parsed in one place: hostile values are a 400.

A tampered cursor (a number, a list, an object, null, not base64, huge, another list's
cursor) and a time without an offset, garbage or out of range were 500s in places; each
is now the same problem type on every list and every field, with nothing stored.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fiscus.core.errors import PROBLEM_BASE
from tests.factories import Principal
from tests.security.state import state_digest

LEDGER = "/v1/ledger"


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.fixture(autouse=True)
def _one_address_may_send_them_all(app: FastAPI) -> None:
    """These tests send a few hundred refused requests from one address within a second or
    two, past the per-address burst (200/s) that exists to stop exactly that: not what
    is tested here (tests/identity/test_throttling.py is)."""
    app.state.identity.config.ip_requests_per_minute = 1_000_000


# Each decodes to something a cursor of ours never is.
HOSTILE_CURSORS = [
    _b64("5"),
    _b64("-1"),
    _b64("1e999"),
    _b64("[5]"),
    _b64("[[1], [2]]"),
    _b64('{"id": "x"}'),
    _b64("null"),
    _b64("[null]"),
    _b64("[true]"),
    _b64("[NaN]"),
    _b64("[Infinity]"),
    _b64('"019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"'),
    _b64('["019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"]'),
    _b64('["x", 1, 2, 3]'),
    _b64("[" * 200 + "]" * 200),
    _b64("[" + "9" * 400 + "]"),
    _b64('["ledger_entries.account_version", 99999999999999999999999]'),
    _b64('["ledger_entries.account_version", -99999999999999999999999]'),
    _b64('["ledger_accounts.id", 5]'),
    _b64('["ledger_accounts.id", "not-a-uuid"]'),
    _b64('["ledger_accounts.id", {"a": 1}]'),
    _b64('["ledger_accounts.id", ["019a9f0e-3c1e-7f60-a1b2-6c0ffee00001"]]'),
    "!!!",
    "%%%",
    "a",
    "====",
    "e30",
    "A" * 5000,
    _b64("\u00e9\u00e9").replace("w", "\u00b2"),
]


async def _lists(client: httpx.AsyncClient, owner: Principal) -> list[str]:
    """Every paginated list, with a real object where the path needs one."""
    account = await client.post(
        f"{LEDGER}/accounts",
        json={
            "code": "cash-" + uuid.uuid4().hex[:8],
            "name": "Cash",
            "currency": "EUR",
            "type": "asset",
            "normal_side": "debit",
        },
        headers={**owner.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert account.status_code == 201, account.text
    endpoint = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://93.184.215.14/hook", "event_types": ["transfer.*"]},
        headers={**owner.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert endpoint.status_code == 201, endpoint.text
    return [
        "/v1/me/login-history",
        "/v1/users",
        "/v1/api-keys",
        "/v1/audit-events",
        "/v1/webhook-endpoints",
        f"/v1/webhook-endpoints/{endpoint.json()['id']}/deliveries",
        "/v1/me/messages",
        "/v1/messages",
        f"{LEDGER}/accounts",
        f"{LEDGER}/accounts/{account.json()['id']}/entries",
    ]


def _problem(response: httpx.Response, slug: str) -> dict[str, Any]:
    assert response.status_code == 400, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug, (response.request.url, body)
    return body


async def test_hostile_cursors_are_invalid_cursor_on_every_list(
    app: FastAPI, client: httpx.AsyncClient, make_principal: Any
) -> None:
    owner = await make_principal(role="owner")
    lists = await _lists(client, owner)
    before = await state_digest(app.state.database_url)
    for path in lists:
        for cursor in HOSTILE_CURSORS:
            response = await client.get(path, params={"cursor": cursor}, headers=owner.headers)
            problem = _problem(response, "cursor-invalid")
            assert problem["errors"][0]["field"] == "cursor"
    assert await state_digest(app.state.database_url) == before


async def test_another_lists_cursor_is_refused_and_a_lists_own_cursor_works(
    client: httpx.AsyncClient, make_principal: Any
) -> None:
    owner = await make_principal(role="owner")
    lists = await _lists(client, owner)
    # A second user and key so that /v1/users and /v1/api-keys have a next page.
    await make_principal(role="analyst", tenant_id=owner.tenant_id)
    created = await client.post(
        "/v1/api-keys", json={"name": "a", "role": "analyst"}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    for name in ("b", "c"):
        await client.post(
            "/v1/api-keys", json={"name": name, "role": "analyst"}, headers=owner.headers
        )
    own: dict[str, str] = {}
    for path in ("/v1/users", "/v1/api-keys", "/v1/audit-events"):
        page = await client.get(path, params={"limit": 1}, headers=owner.headers)
        assert page.status_code == 200, page.text
        assert page.json()["next_cursor"], path
        own[path] = page.json()["next_cursor"]
    for path, cursor in own.items():
        again = await client.get(path, params={"limit": 1, "cursor": cursor}, headers=owner.headers)
        assert again.status_code == 200, again.text
        for other in lists:
            if other != path and not other.endswith("/messages"):
                response = await client.get(other, params={"cursor": cursor}, headers=owner.headers)
                _problem(response, "cursor-invalid")


@pytest.mark.parametrize("after", ["-1", "1e3", "\u00b2", "\u0661\u0662", "x", "9" * 19, "1.5"])
async def test_hostile_event_feed_positions_are_invalid_cursor(
    client: httpx.AsyncClient, make_principal: Any, after: str
) -> None:
    owner = await make_principal(role="owner")
    response = await client.get("/v1/events", params={"after": after}, headers=owner.headers)
    assert _problem(response, "cursor-invalid")["errors"][0]["field"] == "after"


HOSTILE_TIMES: list[Any] = [
    "2026-11-22T14:05:00",  # no offset
    "2026-11-22 14:05:00",
    "2026-11-22",
    "14:05:00Z",
    "2026-11-22T14:05:00+0100",
    "2026-02-30T00:00:00Z",
    "2026-11-22T24:00:00Z",
    "2026-11-22T14:05:60Z",
    "2026-11-22T14:05:00+24:00",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    "10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "garbage",
    "",
    "1732284300",
    1732284300,
    0.5,
    True,
    [],
    {"at": "2026-11-22T14:05:00Z"},
    "2026-11-22T14:05:00.1234567890123Z",
    "2026-11-22T14:05:00Z" + " " * 100,
]


def _transfer(account: str, other: str, effective_at: Any) -> dict[str, Any]:
    return {
        "debit_account_id": account,
        "credit_account_id": other,
        "amount": 100,
        "currency": "EUR",
        "effective_at": effective_at,
    }


async def _two_accounts(client: httpx.AsyncClient, owner: Principal) -> list[str]:
    ids = []
    for side in ("debit", "credit"):
        made = await client.post(
            f"{LEDGER}/accounts",
            json={
                "code": side + uuid.uuid4().hex[:8],
                "name": side,
                "currency": "EUR",
                "type": "asset" if side == "debit" else "liability",
                "normal_side": side,
            },
            headers={**owner.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    return ids


async def test_hostile_times_are_invalid_timestamp_in_every_field(
    app: FastAPI, client: httpx.AsyncClient, make_principal: Any
) -> None:
    owner = await make_principal(role="owner")
    debit, credit = await _two_accounts(client, owner)
    before = await state_digest(app.state.database_url)
    for value in HOSTILE_TIMES:
        key = {"Idempotency-Key": uuid.uuid4().hex}
        single = await client.post(
            f"{LEDGER}/transfers",
            json=_transfer(debit, credit, value),
            headers={**owner.headers, **key},
        )
        _problem(single, "timestamp-invalid")
        batch = await client.post(
            f"{LEDGER}/transfers/batch",
            json={"mode": "atomic", "transfers": [_transfer(debit, credit, value)]},
            headers={**owner.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        _problem(batch, "timestamp-invalid")
        api_key = await client.post(
            "/v1/api-keys",
            json={"name": "k", "role": "analyst", "expires_at": value},
            headers=owner.headers,
        )
        _problem(api_key, "timestamp-invalid")
        if isinstance(value, str):
            for path, name in (
                (f"{LEDGER}/accounts/{debit}/balance", "as_of"),
                ("/v1/audit-events", "occurred_after"),
                ("/v1/audit-events", "occurred_before"),
            ):
                response = await client.get(path, params={name: value}, headers=owner.headers)
                _problem(response, "timestamp-invalid")
    assert await state_digest(app.state.database_url) == before


async def test_times_with_an_offset_are_read_as_that_instant(
    client: httpx.AsyncClient, make_principal: Any
) -> None:
    owner = await make_principal(role="owner")
    debit, _ = await _two_accounts(client, owner)
    for value in ("2026-11-22T14:05:00+01:00", "2026-11-22T13:05:00Z", "2026-11-22t13:05:00z"):
        response = await client.get(
            f"{LEDGER}/accounts/{debit}/balance", params={"as_of": value}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["as_of"].startswith("2026-11-22T13:05:00"), response.json()
    made = await client.post(
        "/v1/api-keys",
        json={"name": "k", "role": "analyst", "expires_at": "2099-01-01T01:00:00+01:00"},
        headers=owner.headers,
    )
    assert made.status_code == 201, made.text
    listed = await client.get("/v1/api-keys", headers=owner.headers)
    [key] = [k for k in listed.json()["data"] if k["id"] == made.json()["id"]]
    assert key["expires_at"].startswith("2099-01-01T00:00:00"), key


async def test_quiet_hours_take_a_time_of_day_not_a_number(
    client: httpx.AsyncClient, make_principal: Any
) -> None:
    # schemathesis found `"quiet_end": 0` accepted once it reached /v1/me with a JWT.
    me = await make_principal(role="customer")
    for value in (0, 3600, 1.5, True):
        response = await client.put(
            "/v1/me/message-profile",
            json={"timezone": "UTC", "quiet_end": value},
            headers=me.headers,
        )
        assert response.status_code == 400, (value, response.text)
    fine = await client.put(
        "/v1/me/message-profile",
        json={"timezone": "UTC", "quiet_start": "22:00", "quiet_end": "07:00"},
        headers=me.headers,
    )
    assert fine.status_code == 204, fine.text
