"""Issue 12: authentication costs one round trip and caches nothing, so revocation is at once.

Round trips are counted on the wire by the bench's counting proxy in front of the real
PostgreSQL (`bench/request_path/proxy.py`), with a second app pointed at it.
"""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from bench.request_path.proxy import proxied
from fiscus.api import create_app
from fiscus.core.config import Settings
from tests.ledger.factories import ledger_context, open_account


async def test_an_authenticated_balance_get_is_at_most_two_round_trips(
    app, client, settings: Settings, make_principal
) -> None:
    owner = await make_principal(role="owner")
    account = await open_account(app.state.db, ledger_context(owner.tenant_id))
    created = await client.post(
        "/v1/api-keys", json={"name": "svc", "role": "analyst"}, headers=owner.headers
    )
    assert created.status_code == 201, created.text
    api_key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert settings.database_url is not None
    with proxied(settings.database_url) as (proxy, through_proxy):
        application = create_app(settings.model_copy(update={"database_url": through_proxy}))
        async with (
            LifespanManager(application, startup_timeout=30, shutdown_timeout=30),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application), base_url="http://test"
            ) as http,
        ):
            path = f"/v1/ledger/accounts/{account.id}/balance"
            for headers in (api_key, owner.headers):
                # The first request opens pooled connections and writes last_used_at.
                assert (await http.get(path, headers=headers)).status_code == 200
                proxy.reset()
                answered = await http.get(path, headers=headers)
                assert answered.status_code == 200, answered.text
                trips = sum(t for t, _ in proxy.snapshot().values())
                # One for the credential check, one for the balance (5 and 6 before).
                assert trips == 2, proxy.snapshot()


async def test_revocation_takes_effect_on_the_very_next_request(client, make_principal) -> None:
    # The window is zero: each credential is used just before it is revoked (so anything
    # cached would be warm), and the next request, with no time passing, is refused.
    owner = await make_principal(role="owner")
    user = await make_principal(role="admin", tenant_id=owner.tenant_id)
    made = await client.post(
        "/v1/api-keys", json={"name": "svc", "role": "analyst"}, headers=owner.headers
    )
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    assert (await client.get("/v1/audit-events", headers=key)).status_code == 200
    revoked = await client.delete(f"/v1/api-keys/{made.json()['id']}", headers=owner.headers)
    assert revoked.status_code == 204
    assert (await client.get("/v1/audit-events", headers=key)).status_code == 401

    assert (await client.get("/v1/api-keys", headers=user.headers)).status_code == 200
    demoted = await client.patch(
        f"/v1/users/{user.user_id}", json={"role": "analyst"}, headers=owner.headers
    )
    assert demoted.status_code == 200
    assert (await client.get("/v1/api-keys", headers=user.headers)).status_code == 403

    assert (await client.get("/v1/me", headers=user.headers)).status_code == 200
    disabled = await client.patch(
        f"/v1/users/{user.user_id}", json={"status": "disabled"}, headers=owner.headers
    )
    assert disabled.status_code == 200
    assert (await client.get("/v1/me", headers=user.headers)).status_code == 401

    assert (await client.get("/v1/me", headers=owner.headers)).status_code == 200
    assert (await client.post("/v1/auth/logout", headers=owner.headers)).status_code == 204
    assert (await client.get("/v1/me", headers=owner.headers)).status_code == 401
