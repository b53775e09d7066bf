"""The webhook and event-stream HTTP API: shapes, permissions, problems."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from fastapi import FastAPI
from standardwebhooks import Webhook

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.core.events import emit, events_relay_batch
from tests.factories import Principal
from tests.webhooks.factories import dispatch_webhooks
from tests.webhooks.receiver import Receiver, Reply, running

MakePrincipal = Callable[..., Awaitable[Principal]]


async def test_endpoint_lifecycle_over_http(
    app: FastAPI, client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    admin = await make_principal(role="admin")
    tenant, auth = admin.tenant_id, admin.headers
    with running(Receiver()) as receiver:
        created = await client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url, "event_types": ["transfer.*"], "description": "books"},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        endpoint = created.json()
        assert endpoint["secret"].startswith("whsec_") and endpoint["enabled"] is True
        assert endpoint["created_at"].endswith("Z")
        fetched = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=auth)).json()
        assert "secret" not in fetched and fetched["event_types"] == ["transfer.*"]

        rotated = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=auth
        )
        assert rotated.status_code == 200 and rotated.json()["secret"] != endpoint["secret"]

        async with db.uow(tenant_id=tenant) as uow:
            await emit(uow, tenant_id=tenant, type="transfer.posted", subject="t/1", payload={})
        await events_relay_batch(db, keyring=app.state.keyring)
        await dispatch_webhooks(db, app.state.settings)
        [request] = receiver.requests
        Webhook(rotated.json()["secret"]).verify(request.body, request.headers)
        Webhook(endpoint["secret"]).verify(request.body, request.headers)

        log = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=auth)
        [delivery] = log.json()["data"]
        assert (
            delivery["status"] == "succeeded" and delivery["attempts"][0]["response_status"] == 204
        )
        assert delivery["id"] == request.headers["webhook-id"]

        test = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=auth)
        assert test.status_code == 202 and test.json()["event_type"] == "webhook.test"

        feed = await client.get("/v1/events", params={"types": "transfer.*"}, headers=auth)
        body = feed.json()
        assert [e["position"] for e in body["data"]] == [1]
        assert body["next_cursor"] == "1" and body["has_more"] is False
        again = await client.get("/v1/events", params={"after": "1"}, headers=auth)
        assert again.json() == {"data": [], "next_cursor": "1", "has_more": False}
        one = await client.get(f"/v1/events/{body['data'][0]['id']}", headers=auth)
        assert one.json()["type"] == "transfer.posted"

        deleted = await client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=auth)
        assert deleted.status_code == 204


async def test_permissions_and_tenants_are_enforced(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    admin = await make_principal(role="admin")
    analyst = await make_principal(role="analyst", tenant_id=admin.tenant_id)
    customer = await make_principal(role="customer", tenant_id=admin.tenant_id)
    reader = analyst.headers
    body = {"url": "http://127.0.0.1:9/x", "event_types": ["*"]}
    refused = await client.post("/v1/webhook-endpoints", json=body, headers=reader)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/v1/events", headers=customer.headers)).status_code == 403
    assert (await client.get("/v1/events", headers=reader)).status_code == 200
    assert (await client.get("/v1/webhook-endpoints")).status_code == 401

    created = (await client.post("/v1/webhook-endpoints", json=body, headers=admin.headers)).json()
    stranger = (await make_principal(role="owner")).headers
    missing = await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=stranger)
    assert missing.status_code == 404


async def test_bad_input_is_a_problem(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    auth = (await make_principal(role="admin")).headers
    bad_types = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/x", "event_types": ["Transfer"]},
        headers=auth,
    )
    assert bad_types.status_code == 400
    empty = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/x", "event_types": []},
        headers=auth,
    )
    assert empty.status_code == 400
    unsafe = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "gopher://127.0.0.1/x", "event_types": ["*"]},
        headers=auth,
    )
    assert unsafe.status_code == 422
    assert unsafe.json()["type"].endswith("/webhook-url-unsafe")
    assert (await client.get("/v1/events?after=-1", headers=auth)).status_code == 400
    assert (await client.get("/v1/events?types=a..b", headers=auth)).status_code == 400


async def test_null_for_a_field_that_cannot_be_null_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    # Found by schemathesis: `"url": null` crashed the SSRF check (a 500), and
    # `"enabled": null` would have disabled the endpoint.
    auth = (await make_principal(role="admin")).headers
    body = {"url": "http://127.0.0.1:9/x", "event_types": ["*"], "description": "books"}
    created = (await client.post("/v1/webhook-endpoints", json=body, headers=auth)).json()
    path = f"/v1/webhook-endpoints/{created['id']}"
    for field in ("url", "event_types", "enabled"):
        response = await client.patch(path, json={field: None}, headers=auth)
        assert response.status_code == 400, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == f"body.{field}"
    unchanged = (await client.get(path, headers=auth)).json()
    assert (unchanged["url"], unchanged["event_types"], unchanged["enabled"]) == (
        body["url"],
        body["event_types"],
        True,
    )
    # The description may be cleared with null.
    cleared = await client.patch(path, json={"description": None}, headers=auth)
    assert cleared.status_code == 200 and cleared.json()["description"] is None


async def test_a_retried_rotation_returns_the_same_secret(
    client: httpx.AsyncClient, random_key: str, make_principal: MakePrincipal
) -> None:
    auth = (await make_principal(role="admin")).headers
    created = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "http://127.0.0.1:9/x", "event_types": ["*"]},
        headers=auth,
    )
    path = f"/v1/webhook-endpoints/{created.json()['id']}/rotate-secret"
    keyed = {**auth, "Idempotency-Key": random_key}
    first = await client.post(path, json={"overlap_s": 60}, headers=keyed)
    again = await client.post(path, json={"overlap_s": 60}, headers=keyed)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.json()["secret"] == again.json()["secret"]
    other = await client.post(path, json={"overlap_s": 60}, headers=auth)
    assert other.json()["secret"] != first.json()["secret"]


async def test_update_retry_and_replay_over_http(
    app: FastAPI, client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    admin = await make_principal(role="admin")
    tenant, auth = admin.tenant_id, admin.headers
    with running(Receiver(script=[Reply(500)])) as receiver:
        created = await client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url, "event_types": ["card.*"], "description": "old"},
            headers=auth,
        )
        endpoint_id = created.json()["id"]
        base = f"/v1/webhook-endpoints/{endpoint_id}"
        updated = await client.patch(
            base, json={"event_types": ["transfer.*"], "description": "books"}, headers=auth
        )
        assert updated.status_code == 200, updated.text
        assert (updated.json()["event_types"], updated.json()["description"]) == (
            ["transfer.*"],
            "books",
        )
        fetched = (await client.get(base, headers=auth)).json()
        assert fetched["event_types"] == ["transfer.*"] and fetched["url"] == receiver.url

        since = clock.now() - timedelta(seconds=1)
        async with db.uow(tenant_id=tenant) as uow:
            event_id = await emit(
                uow, tenant_id=tenant, type="transfer.posted", subject="t/1", payload={}
            )
        await events_relay_batch(db, keyring=app.state.keyring)
        await dispatch_webhooks(db, app.state.settings)
        [failed] = (await client.get(f"{base}/deliveries", headers=auth)).json()["data"]
        assert failed["status"] != "succeeded" and len(receiver.requests) == 1  # the 500

        # Retry: the same delivery (same webhook-id) is sent again at once and succeeds.
        disabled = await client.patch(base, json={"enabled": False}, headers=auth)
        assert disabled.json()["enabled"] is False
        refused = await client.post(f"{base}/deliveries/{failed['id']}/retry", headers=auth)
        assert refused.status_code == 409, refused.text
        await client.patch(base, json={"enabled": True}, headers=auth)
        retried = await client.post(f"{base}/deliveries/{failed['id']}/retry", headers=auth)
        assert retried.status_code == 202, retried.text
        assert (retried.json()["id"], retried.json()["status"]) == (failed["id"], "pending")
        await dispatch_webhooks(db, app.state.settings)
        assert [r.headers["webhook-id"] for r in receiver.requests] == [failed["id"]] * 2
        [done] = (await client.get(f"{base}/deliveries", headers=auth)).json()["data"]
        assert done["status"] == "succeeded"

        # Replay: every matching event since then is queued again, as a new delivery.
        replayed = await client.post(
            f"{base}/replay",
            json={"since": since.isoformat().replace("+00:00", "Z")},
            headers={**auth, "Idempotency-Key": "replay-1"},
        )
        assert replayed.status_code == 202, replayed.text
        assert replayed.json() == {"deliveries_queued": 1}
        await dispatch_webhooks(db, app.state.settings)
        third = receiver.requests[2]
        assert third.headers["webhook-id"] != failed["id"]
        assert json.loads(third.body)["id"] == str(event_id)
        later = await client.post(
            f"{base}/replay", json={"since": "2999-01-01T00:00:00Z"}, headers=auth
        )
        assert (later.status_code, later.json()) == (202, {"deliveries_queued": 0})
