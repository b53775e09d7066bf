"""An outage of a dependency answers 503 service-unavailable, never a 500 with a traceback.

A client (and the chaos harness) must be able to tell "we are down, retry" from "the request
failed": PostgreSQL unreachable, a pool that cannot hand out a connection, or Redis gone
under the login lockout check all answer 503 problem+json with Retry-After, and the log
names the cause without a stack trace.
"""

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from fiscus.api import create_app
from fiscus.core.errors import PROBLEM_BASE
from fiscus.core.keyring import KeyRing
from tests.conftest import make_settings
from tests.factories import Principal, principal

MakePrincipal = Callable[..., Awaitable[Principal]]

UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/fiscus"


async def _send(settings_url: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    app = create_app(make_settings(settings_url, **kwargs.pop("overrides", {})))  # type: ignore[arg-type]
    async with LifespanManager(app, startup_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await http.request(method, path, **kwargs)  # type: ignore[arg-type]


def _assert_unavailable(response: httpx.Response, err: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    body = response.json()
    assert body["type"] == PROBLEM_BASE + "service-unavailable"
    assert "Traceback" not in response.text
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(e["event"] == "dependency_unavailable" for e in events)
    assert not any(e["event"] == "unhandled_error" for e in events)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        (
            "POST",
            "/v1/auth/login",
            {"json": {"tenant": "t", "email": "a@example.com", "password": "x" * 12}},
        ),
        ("GET", "/v1/ledger/accounts", {"headers": {"Authorization": "Bearer fsk_unknown"}}),
    ],
)
async def test_database_down_answers_503(
    method: str, path: str, kwargs: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    response = await _send(UNREACHABLE_DATABASE, method, path, **kwargs)
    _assert_unavailable(response, capsys.readouterr().err)


async def test_redis_down_under_the_lockout_check_answers_503(
    clean_database: str, make_principal: MakePrincipal, capsys: pytest.CaptureFixture[str]
) -> None:
    # Whether the account is locked cannot be known: refuse (fail closed), as "retry later".
    # The rate limiter in front of it fails open and says so in one line, without a traceback.
    user = await make_principal(role="customer")
    response = await _send(
        clean_database,
        "POST",
        "/v1/auth/login",
        json={"tenant": user.tenant_slug, "email": user.email, "password": user.password},
        overrides={"redis_url": "redis://127.0.0.1:1/0"},
    )
    _assert_unavailable(response, capsys.readouterr().err)


async def test_keys_not_loaded_yet_answer_503_keys_unavailable(
    app: FastAPI, client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    # A process whose database was down when it started has no keys until its refresher
    # reads them: a request that must seal something then is a 503, not an assertion's 500.
    admin = await make_principal(role="admin")
    loaded = app.state.keyring
    app.state.keyring = KeyRing(app.state.settings.root_secrets)
    try:
        response = await client.post(
            "/v1/webhook-endpoints",
            json={"url": "https://93.184.215.14/hook", "event_types": ["transfer.*"]},
            headers=admin.headers,
        )
    finally:
        app.state.keyring = loaded
    assert response.status_code == 503, response.text
    assert response.json()["type"] == PROBLEM_BASE + "keys-unavailable"
    assert response.headers["retry-after"] == "5"


async def test_exhausted_connection_pool_answers_503(
    clean_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # One connection, no overflow: while something else holds it, a request waits for the
    # pool's timeout and is told to retry, instead of failing with a 500.
    settings = make_settings(clean_database, db_pool_size=1, db_pool_overflow=0)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30):
        user = await principal(app, role="analyst")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            capsys.readouterr()
            async with app.state.db.engine.connect() as held:
                await held.execute(text("SELECT 1"))  # the pool's only connection is ours
                response = await http.get("/v1/ledger/accounts", headers=user.headers)
            # Once it is back, the same request is served.
            again = await http.get("/v1/ledger/accounts", headers=user.headers)
    err = capsys.readouterr().err
    _assert_unavailable(response, err)
    assert "database:pool-timeout" in err
    assert again.status_code == 200, again.text
