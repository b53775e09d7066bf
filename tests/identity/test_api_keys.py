"""API keys: shown once, hashed, scoped to a role, expiry, revocation, last use, no escalation."""

from __future__ import annotations

from datetime import timedelta

from fiscus.core import clock


async def _create(client, headers, **body):
    return await client.post(
        "/v1/api-keys", json={"name": "svc", "role": "analyst", **body}, headers=headers
    )


async def test_key_is_shown_once_and_works_with_its_role(client, make_principal) -> None:
    owner = await make_principal()
    created = await _create(client, owner.headers)
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["id"]
    auth = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/v1/audit-events", headers=auth)).status_code == 200
    assert (await client.get("/v1/api-keys", headers=auth)).status_code == 403  # analyst
    listed = await client.get("/v1/api-keys", headers=owner.headers)
    [row] = listed.json()["data"]
    assert row["id"] == key_id and row["prefix"] == key[:8]
    assert key not in listed.text
    assert row["last_used_at"] is not None
    one = await client.get(f"/v1/api-keys/{key_id}", headers=owner.headers)
    assert "key" not in one.json()


async def test_revoked_and_expired_keys_stop_working(client, make_principal) -> None:
    owner = await make_principal()
    revoked = (await _create(client, owner.headers)).json()
    assert (
        await client.delete(f"/v1/api-keys/{revoked['id']}", headers=owner.headers)
    ).status_code == 204
    auth = {"Authorization": f"Bearer {revoked['key']}"}
    assert (await client.get("/v1/audit-events", headers=auth)).status_code == 401
    soon = clock.now() + timedelta(minutes=5)
    expiring = (await _create(client, owner.headers, expires_at=soon.isoformat())).json()
    auth = {"Authorization": f"Bearer {expiring['key']}"}
    assert (await client.get("/v1/audit-events", headers=auth)).status_code == 200
    with clock.frozen_clock(soon + timedelta(seconds=1)):
        assert (await client.get("/v1/audit-events", headers=auth)).status_code == 401
    past = await _create(
        client, owner.headers, expires_at=(clock.now() - timedelta(days=1)).isoformat()
    )
    assert past.status_code == 400


async def test_no_one_grants_more_than_they_hold(client, make_principal) -> None:
    admin = await make_principal(role="admin")
    refused = await _create(client, admin.headers, role="owner")
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/role-not-grantable")
    unknown = await _create(client, admin.headers, role="wizard")
    assert unknown.status_code == 403
    owner = await make_principal(role="owner", tenant_id=admin.tenant_id)
    demote_owner = await client.patch(
        f"/v1/users/{owner.user_id}", json={"role": "analyst"}, headers=admin.headers
    )
    assert demote_owner.status_code == 403
