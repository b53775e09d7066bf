"""Login, the token pair, the authenticator, logout."""

from __future__ import annotations

import httpx

from tests.factories import PASSWORD, Principal


async def _login(
    client: httpx.AsyncClient, p: Principal, password: str = PASSWORD
) -> httpx.Response:
    return await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": password}
    )


async def test_login_returns_a_token_pair_that_authenticates(client, make_principal) -> None:
    p = await make_principal(role="analyst")
    response = await _login(client, p)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"].startswith("fsr_")
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["email"] == p.email
    assert me.json()["role"] == "analyst"
    assert "audit:read" in me.json()["permissions"]


async def test_wrong_password_is_401_problem(client, make_principal) -> None:
    p = await make_principal()
    response = await _login(client, p, password="not the password at all")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/credentials-invalid")


async def test_unknown_tenant_and_unknown_email_look_the_same(client, make_principal) -> None:
    p = await make_principal()
    a = await client.post(
        "/v1/auth/login", json={"tenant": "nope", "email": p.email, "password": PASSWORD}
    )
    b = await client.post(
        "/v1/auth/login",
        json={"tenant": p.tenant_slug, "email": "ghost@example.com", "password": PASSWORD},
    )
    assert a.status_code == b.status_code == 401
    assert a.json()["detail"] == b.json()["detail"]


async def test_no_credentials_is_401(client) -> None:
    response = await client.get("/v1/me")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/token-invalid")


async def test_api_key_in_query_string_is_refused(client, make_principal) -> None:
    p = await make_principal()
    created = await client.post(
        "/v1/api-keys", json={"name": "svc", "role": "analyst"}, headers=p.headers
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("fsk_")
    via_header = await client.get("/v1/me/sessions", headers={"Authorization": f"Bearer {key}"})
    assert via_header.status_code == 403  # authenticated; API keys have no sessions
    via_query = await client.get(f"/v1/audit-events?api_key={key}")
    assert via_query.status_code == 401
    ok = await client.get("/v1/audit-events", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200, ok.text


async def test_logout_ends_the_session_at_once(client, make_principal) -> None:
    p = await make_principal()
    assert (await client.get("/v1/me", headers=p.headers)).status_code == 200
    out = await client.post("/v1/auth/logout", headers=p.headers)
    assert out.status_code == 204
    assert (await client.get("/v1/me", headers=p.headers)).status_code == 401
    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": p.refresh_token})
    assert refreshed.status_code == 401
