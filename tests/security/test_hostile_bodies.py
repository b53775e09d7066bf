"""Hostile bodies, bytes and headers get a 4xx (problem+json where the app sees them), never
a 500, and leave no trace in the database or the response headers.

What `tests/core/test_errors.py` already proves on a small app (a 413 by Content-Length
and by stream, a 400 for a body of invalid UTF-8, an unsafe X-Request-ID replaced, NUL and
lone surrogates as 400 data-invalid) and `test_log_injection.py` on the logger (CR/LF and
ANSI escaped) is not repeated. Here, against the real application:

- the body limit holds however the body is framed: a Content-Length over it (also a lying
  one, with a short body behind it), an absurd one, or chunked with no Content-Length, all
  over a raw socket to a live server;
- JSON nested 10,000 deep, and metadata nested past its limit or holding NaN/Infinity, is
  a 400 problem (the last two were a 500 before);
- invalid UTF-8 in a body, a query string and header values is a 400 or ignored, never a
  500; raw bytes the HTTP parser refuses never reach the app;
- CR/LF and ANSI escapes in names, descriptions and metadata are stored and returned
  verbatim, while the live server's log stays one JSON object per line with no raw
  control character;
- CR/LF in X-Request-ID or Idempotency-Key can never add a response header; an overlong
  or odd X-Request-ID is replaced by a fresh id;
- every JSON endpoint of the OpenAPI document answers a body of another media type (text,
  form, none declared) with a 415 problem (a misleading 400 "valid dictionary" before).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fiscus.core.errors import PROBLEM_BASE
from fiscus.core.migrate import upgrade
from fiscus.ledger.schemas import MAX_METADATA_DEPTH
from tests.conftest import TEST_SECRET, recreate_database, scratch_database_name
from tests.factories import Principal
from tests.live import LiveServer, live_server
from tests.security.state import state_digest
from tests.security.test_money_edges import DOCUMENT

MakePrincipal = Callable[..., Awaitable[Principal]]
PROBLEM_JSON = "application/problem+json"
LEDGER = "/v1/ledger"
LIMIT = 64 * 1024
OWNER = "owner@hostile.test"
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
HOSTILE_TEXT = 'Ann\r\nX-Injected: 1\r\n\r\n{"forged": true}\x1b[2J\x1b[31mred\x07\x7f'
LIVE = pytest.mark.xdist_group("hostile_live")  # one live server for these tests


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug, body
    return body


def _json_headers(who: Principal) -> dict[str, str]:
    return {**who.headers, "content-type": "application/json", "Idempotency-Key": uuid.uuid4().hex}


def _account_body(**fields: Any) -> dict[str, Any]:
    return {
        "code": f"acc-{uuid.uuid4().hex[:10]}",
        "name": "Account",
        "currency": "EUR",
        "type": "asset",
        "normal_side": "debit",
        **fields,
    }


def _with_metadata(raw_metadata: bytes) -> bytes:
    """An account body whose metadata is the given raw JSON text."""
    text = json.dumps(_account_body(metadata="__metadata__")).encode()
    return text.replace(b'"__metadata__"', raw_metadata)


@pytest.fixture
async def operator(make_principal: MakePrincipal) -> Principal:
    return await make_principal(role="operator")


async def test_deep_nesting_and_non_finite_numbers_are_400_problems_and_change_nothing(
    client: httpx.AsyncClient, app: FastAPI, operator: Principal
) -> None:
    headers = _json_headers(operator)
    # The control: metadata exactly at the depth limit is stored.
    at_limit = b'{"a": ' + b"[" * (MAX_METADATA_DEPTH - 1) + b"]" * (MAX_METADATA_DEPTH - 1) + b"}"
    accepted = await client.post(
        f"{LEDGER}/accounts", content=_with_metadata(at_limit), headers=headers
    )
    assert accepted.status_code == 201, accepted.text
    before = await state_digest(app.state.database_url)
    too_deep = MAX_METADATA_DEPTH + 1
    field_refusals = [
        b'{"a": ' + b"[" * too_deep + b"]" * too_deep + b"}",
        b'{"a": ' + b'{"b": ' * too_deep + b"1" + b"}" * too_deep + b"}",
        b'{"a": ' + b"[" * 500 + b"]" * 500 + b"}",
        b'{"a": NaN}',
        b'{"a": [1, Infinity]}',
        b'{"a": {"b": -Infinity}}',
        b'{"a": 1e309}',
    ]
    for raw in field_refusals:
        response = await client.post(
            f"{LEDGER}/accounts", content=_with_metadata(raw), headers=_json_headers(operator)
        )
        problem = _problem(response, 400, "validation-error")
        assert problem["errors"][0]["field"] == "body.metadata", problem
    # Past what the JSON parser will nest, the body cannot be parsed at all: still a 400.
    for opening, closing in ((b"[", b"]"), (b'{"a":', b"}")):
        raw = b'{"a": ' + opening * 10_000 + b"1" + closing * 10_000 + b"}"
        response = await client.post(
            f"{LEDGER}/accounts", content=_with_metadata(raw), headers=_json_headers(operator)
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["type"] in {
            PROBLEM_BASE + "bad-request",
            PROBLEM_BASE + "validation-error",
        }
    assert await state_digest(app.state.database_url) == before


async def test_invalid_utf8_in_body_query_and_headers_is_refused_without_a_500(
    client: httpx.AsyncClient, app: FastAPI, operator: Principal
) -> None:
    before = await state_digest(app.state.database_url)
    body = json.dumps(_account_body(name="__name__")).encode()
    for bad in (b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"):
        response = await client.post(
            f"{LEDGER}/accounts",
            content=body.replace(b"__name__", b"name" + bad),
            headers=_json_headers(operator),
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
    # Percent-encoded invalid UTF-8 in the query string: the parameter is refused by name.
    for query, field, slug in (
        ("cursor=%ff%fe", "cursor", "cursor-invalid"),
        ("limit=%ff", "query.limit", "validation-error"),
    ):
        response = await client.get(f"{LEDGER}/accounts?{query}", headers=operator.headers)
        problem = _problem(response, 400, slug)
        assert problem["errors"][0]["field"] == field
    # Latin-1 bytes in header values: a request id is replaced, an idempotency key refused.
    odd = b"\xff\xfeid"
    response = await client.get(
        f"{LEDGER}/accounts", headers={**operator.headers, "X-Request-ID": odd}
    )
    assert response.status_code == 200
    assert SAFE_REQUEST_ID.match(response.headers["x-request-id"])
    response = await client.post(
        f"{LEDGER}/transfers/batch",
        json={"mode": "atomic", "transfers": []},
        headers={**operator.headers, "Idempotency-Key": b"k\xe9y"},
    )
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM_JSON
    assert await state_digest(app.state.database_url) == before


async def test_control_characters_in_text_fields_are_stored_and_returned_verbatim(
    client: httpx.AsyncClient, operator: Principal
) -> None:
    metadata = {HOSTILE_TEXT: HOSTILE_TEXT, "list": [HOSTILE_TEXT]}
    account = await client.post(
        f"{LEDGER}/accounts",
        json=_account_body(name=HOSTILE_TEXT, metadata=metadata),
        headers=_json_headers(operator),
    )
    assert account.status_code == 201, account.text
    wallet = await client.post(
        f"{LEDGER}/accounts",
        json=_account_body(type="liability", normal_side="credit"),
        headers=_json_headers(operator),
    )
    transfer = await client.post(
        f"{LEDGER}/transfers",
        json={
            "debit_account_id": account.json()["id"],
            "credit_account_id": wallet.json()["id"],
            "amount": 1,
            "currency": "EUR",
            "description": HOSTILE_TEXT,
            "metadata": metadata,
        },
        headers=_json_headers(operator),
    )
    assert transfer.status_code == 201, transfer.text
    stored_account = await client.get(
        f"{LEDGER}/accounts/{account.json()['id']}", headers=operator.headers
    )
    stored_transfer = await client.get(
        f"{LEDGER}/transfers/{transfer.json()['id']}", headers=operator.headers
    )
    assert stored_account.json()["name"] == HOSTILE_TEXT
    assert stored_account.json()["metadata"] == metadata
    assert stored_transfer.json()["description"] == HOSTILE_TEXT
    assert stored_transfer.json()["metadata"] == metadata
    # Nothing the client wrote became a response header.
    for response in (account, transfer, stored_account, stored_transfer):
        assert "x-injected" not in response.headers


def _json_operations() -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def _declared(method: str, template: str) -> set[str]:
    """The media types an operation declares it takes (a file import takes XML too)."""
    operation = DOCUMENT["paths"][template][method.lower()]
    return set(operation.get("requestBody", {}).get("content", {}))


async def test_every_json_endpoint_answers_other_media_types_with_415(
    client: httpx.AsyncClient, app: FastAPI, make_principal: MakePrincipal
) -> None:
    # Several hundred refused requests from one address within a second or two pass the
    # per-address burst (200/s) that exists to stop exactly that; the limiter is tested in
    # tests/identity/test_throttling.py, the media types here.
    app.state.identity.config.ip_requests_per_minute = 1_000_000
    owner = await make_principal(role="owner")
    operations = _json_operations()
    assert ("POST", "/v1/ledger/transfers") in operations and len(operations) > 20
    before = await state_digest(app.state.database_url)
    media_types = ("text/plain", "application/x-www-form-urlencoded", "application/xml", None)
    for method, template in operations:
        path = re.sub(r"\{(\w+)\}", lambda m: str(uuid.uuid4()), template)
        for media_type in media_types:
            if media_type in _declared(method, template):
                continue
            headers = {**owner.headers, "Idempotency-Key": uuid.uuid4().hex}
            if media_type is not None:
                headers["content-type"] = media_type
            response = await client.request(method, path, content=b'{"name": "x"}', headers=headers)
            assert response.status_code == 415, (method, template, media_type, response.text)
            assert response.headers["content-type"] == PROBLEM_JSON
            assert response.json()["type"] == PROBLEM_BASE + "unsupported-media-type"
    # A JSON media type with parameters, or a +json suffix, is JSON: not a 415.
    for media_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            f"{LEDGER}/accounts",
            content=json.dumps(_account_body()).encode(),
            headers={**owner.headers, "content-type": media_type},
        )
        assert response.status_code == 201, response.text
    # An empty JSON body is a missing body (400), not a wrong media type.
    empty = await client.post(
        f"{LEDGER}/accounts", content=b"", headers={**owner.headers, "content-type": "text/plain"}
    )
    _problem(empty, 400, "validation-error")
    after = await state_digest(app.state.database_url)
    assert after["ledger_accounts"][0] == before["ledger_accounts"][0] + 2


# A live server over raw sockets: framing and header bytes httpx would never send.


@pytest.fixture(scope="module")
def server(
    server_url: str, worker_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, Path]]:
    url = recreate_database(server_url, scratch_database_name("hostile", worker_id))
    upgrade(url)
    log = tmp_path_factory.mktemp("hostile") / "server.log"
    with live_server(url, log_file=log, extra_env={"FISCUS_MAX_BODY_BYTES": str(LIMIT)}) as live:
        yield live, log


@pytest.fixture(scope="module")
def owner_token(server: tuple[LiveServer, Path]) -> str:
    """An owner's access token, made as an operator would: CLI, then login."""
    live, _ = server
    env = {**os.environ, "FISCUS_DATABASE_URL": live.database_url, "FISCUS_SECRET_KEY": TEST_SECRET}
    password = "hostile-owner-" + secrets.token_hex(8)
    for args, extra in (
        (["create-tenant", "hostile", "--name", "Hostile Ltd"], {}),
        (
            ["create-user", "--tenant", "hostile", "--role", "owner", "--email", OWNER],
            {"FISCUS_PASSWORD": password},
        ),
    ):
        made = subprocess.run(
            [sys.executable, "-m", "fiscus.cli", "admin", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert made.returncode == 0, made.stderr
    login = httpx.post(
        live.base_url + "/v1/auth/login",
        json={"tenant": "hostile", "email": OWNER, "password": password},
    )
    assert login.status_code == 200, login.text
    return str(login.json()["access_token"])


async def exchange(base_url: str, request: bytes) -> tuple[int, dict[bytes, list[bytes]], bytes]:
    """Send raw bytes, read until the server closes: (status, headers, body)."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=60)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers: dict[bytes, list[bytes]] = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(status_line.split()[1]), headers, body


def _request(method: bytes, target: bytes, headers: list[bytes], body: bytes = b"") -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: fiscus.test", *headers]
    return b"\r\n".join([*lines, b"Connection: close", b"", b""]) + body


def _json_post(headers: list[bytes], body: bytes) -> bytes:
    return _request(b"POST", b"/v1/auth/login", [b"Content-Type: application/json", *headers], body)


@LIVE
async def test_bodies_over_the_limit_are_413_problems_however_framed(
    server: tuple[LiveServer, Path],
) -> None:
    live, _ = server
    over = b" " * (LIMIT + 1)
    chunk = b" " * 8192
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // 8192 + 1))
    framings = {
        "declared and sent": _json_post([b"Content-Length: %d" % len(over)], over),
        "declared, lying, short body": _json_post([b"Content-Length: %d" % (LIMIT + 1)], b"{}"),
        "absurd length": _json_post([b"Content-Length: 1000000000000000"], b"{}"),
        "chunked, no length": _json_post([b"Transfer-Encoding: chunked"], chunked + b"0\r\n\r\n"),
    }
    for name, request in framings.items():
        status, headers, body = await exchange(live.base_url, request)
        assert status == 413, (name, body)
        assert headers[b"content-type"] == [PROBLEM_JSON.encode()], name
        assert json.loads(body)["type"] == PROBLEM_BASE + "payload-too-large", name
    # The control: a body exactly at the limit is read and judged (a 400 for bad JSON).
    at_limit = b"{" + b" " * (LIMIT - 2) + b"x"
    status, headers, _ = await exchange(
        live.base_url, _json_post([b"Content-Length: %d" % len(at_limit)], at_limit)
    )
    assert status == 400 and headers[b"content-type"] == [PROBLEM_JSON.encode()]
    # A body shorter than its Content-Length claims, under the limit, is judged on what came.
    status, _, body = await exchange(
        live.base_url, _json_post([b"Content-Length: 5"], b'{"tenant": "x", "email": "e"}')
    )
    assert status == 400 and json.loads(body)["type"] == PROBLEM_BASE + "validation-error"


@LIVE
async def test_header_bytes_can_never_add_a_response_header(
    server: tuple[LiveServer, Path],
) -> None:
    live, _ = server
    injections = [
        b"X-Request-ID: abc\nSet-Cookie: evil=1",
        b"X-Request-ID: abc\rSet-Cookie: evil=1",
        b"X-Request-ID: a\x1b[31mb",
        b"Idempotency-Key: k\rSet-Cookie: evil=1",
        b"X-Request-ID: a\x00b",
    ]
    for header in injections:
        status, headers, _ = await exchange(live.base_url, _request(b"GET", b"/healthz", [header]))
        # The HTTP parser refuses these before the app sees them.
        assert status == 400, header
        assert b"set-cookie" not in headers, header
    # A CRLF ends the header: what follows is just another request header, never echoed.
    status, headers, _ = await exchange(
        live.base_url, _request(b"GET", b"/healthz", [b"X-Request-ID: abc\r\nSet-Cookie: evil=1"])
    )
    assert (status, headers[b"x-request-id"]) == (200, [b"abc"])
    assert b"set-cookie" not in headers
    # Odd but legal request ids are replaced by a fresh one, never echoed.
    for value in (b"a" * 65, b"a" * 8000, b"\xff\xfe", b"a b", b"../../etc/passwd", b"<script>"):
        status, headers, _ = await exchange(
            live.base_url, _request(b"GET", b"/healthz", [b"X-Request-ID: " + value])
        )
        assert status == 200, value
        (echoed,) = headers[b"x-request-id"]
        assert echoed != value and SAFE_REQUEST_ID.match(echoed.decode()), (value, echoed)


@LIVE
async def test_raw_bytes_the_parser_refuses_never_reach_the_app(
    server: tuple[LiveServer, Path],
) -> None:
    live, _ = server
    requests = [
        _request(b"GET", b"/v1/ledger/accounts?cursor=\xff\xfe", []),
        _request(b"GET", b"/v1/ledger/accounts?cursor=a\x1bb", []),
        _json_post([b"Content-Length: abc"], b"{}"),
        _json_post([b"Content-Length: 2", b"Transfer-Encoding: chunked"], b"2\r\n{}\r\n0\r\n\r\n"),
    ]
    for request in requests:
        status, _, _ = await exchange(live.base_url, request)
        assert status == 400, request


@LIVE
async def test_hostile_text_is_stored_verbatim_and_the_log_stays_one_json_object_a_line(
    server: tuple[LiveServer, Path], owner_token: str
) -> None:
    live, log = server
    auth = {"Authorization": f"Bearer {owner_token}"}
    async with httpx.AsyncClient(base_url=live.base_url, headers=auth, timeout=30) as http:
        created = await http.post(
            f"{LEDGER}/accounts",
            json=_account_body(name=HOSTILE_TEXT, metadata={"n": HOSTILE_TEXT}),
        )
        assert created.status_code == 201, created.text
        stored = await http.get(f"{LEDGER}/accounts/{created.json()['id']}")
        assert stored.json()["name"] == HOSTILE_TEXT
        # Percent-encoded CR/LF and ESC in the path and query reach the app decoded.
        response = await http.get("/v1/x%0d%0aX-Injected:%201%1b%5b2J?q=%0d%0a%1b%5b31m")
        assert response.status_code == 404 and "x-injected" not in response.headers
    # Control characters the HTTP parser refuses, and a request id it lets through.
    for header in (
        b"X-Request-ID: a\x1b[2Jb",
        b"X-Request-ID: \xff\r\n\x1b[31m",
        b"X-Evil: \x1b]0;t\x07",
    ):
        status, _, _ = await exchange(live.base_url, _request(b"GET", b"/healthz", [header]))
        assert status in (200, 400), header
    lines = log.read_text(encoding="utf-8", errors="strict").splitlines()
    # The start-up banner, written for people before the server accepts any request, is
    # the only text that is not a log event.
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("{")) :]
    assert len(lines) > 5
    for line in lines:
        try:
            event = json.loads(line)  # a forged line would not parse, or would lack these
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
        assert isinstance(event, dict) and "event" in event and "level" in event, line
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line), line
    text = "\n".join(lines)
    assert "unhandled_error" not in text and "Traceback" not in text
    assert '\n{"forged": true}' not in text
