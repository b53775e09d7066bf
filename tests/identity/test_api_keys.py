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


async def _key_of(client, p, role: str) -> tuple[str, dict[str, str]]:
    made = await _create(client, p.headers, role=role)
    assert made.status_code == 201, made.text
    return made.json()["id"], {"Authorization": f"Bearer {made.json()['key']}"}


async def test_a_disabled_creators_keys_are_suspended_and_cannot_mint(
    client, make_principal
) -> None:
    # Issue 10 item 4: a disabled admin's key kept working and minted new admin keys.
    owner = await make_principal(role="owner")
    admin = await make_principal(role="admin", tenant_id=owner.tenant_id)
    key_id, key = await _key_of(client, admin, "admin")
    minted = await client.post(
        "/v1/api-keys", json={"name": "child", "role": "analyst"}, headers=key
    )
    assert minted.status_code == 201
    assert minted.json()["created_by"] == str(admin.user_id)
    assert minted.json()["created_by_key_id"] == key_id
    child = {"Authorization": f"Bearer {minted.json()['key']}"}
    assert (await client.get("/v1/users", headers=key)).status_code == 200
    disabled = await client.patch(
        f"/v1/users/{admin.user_id}", json={"status": "disabled"}, headers=owner.headers
    )
    assert disabled.status_code == 200
    for headers in (key, child):
        read = await client.get("/v1/audit-events", headers=headers)
        assert read.status_code == 401
        assert read.json()["type"].endswith("/api-key-suspended")
        mint = await client.post(
            "/v1/api-keys", json={"name": "escalate", "role": "admin"}, headers=headers
        )
        assert mint.status_code == 401
    listed = {
        k["id"]: k for k in (await client.get("/v1/api-keys", headers=owner.headers)).json()["data"]
    }
    assert listed[key_id]["created_by"] == str(admin.user_id)
    assert listed[key_id]["status"] == "suspended"
    assert listed[minted.json()["id"]]["status"] == "suspended"
    assert len(listed) == 2  # the refused mint made nothing
    enabled = await client.patch(
        f"/v1/users/{admin.user_id}", json={"status": "active"}, headers=owner.headers
    )
    assert enabled.status_code == 200
    assert (await client.get("/v1/audit-events", headers=key)).status_code == 200


async def test_a_demoted_creators_keys_are_capped_to_the_new_role(client, make_principal):
    owner = await make_principal(role="owner")
    admin = await make_principal(role="admin", tenant_id=owner.tenant_id)
    _, key = await _key_of(client, admin, "admin")
    assert (await client.get("/v1/api-keys", headers=key)).status_code == 200
    demoted = await client.patch(
        f"/v1/users/{admin.user_id}", json={"role": "analyst"}, headers=owner.headers
    )
    assert demoted.status_code == 200
    assert (await client.get("/v1/audit-events", headers=key)).status_code == 200  # analyst
    assert (await client.get("/v1/api-keys", headers=key)).status_code == 403
    mint = await client.post("/v1/api-keys", json={"name": "x", "role": "analyst"}, headers=key)
    assert mint.status_code == 403


async def test_revoking_a_key_revokes_the_keys_minted_from_it(client, make_principal) -> None:
    owner = await make_principal(role="owner")
    parent_id, parent = await _key_of(client, owner, "owner")
    minted = await client.post("/v1/api-keys", json={"name": "c", "role": "admin"}, headers=parent)
    child = {"Authorization": f"Bearer {minted.json()['key']}"}
    grand = await client.post("/v1/api-keys", json={"name": "g", "role": "analyst"}, headers=child)
    assert grand.json()["created_by_key_id"] == minted.json()["id"]
    grandchild = {"Authorization": f"Bearer {grand.json()['key']}"}
    _, sibling = await _key_of(client, owner, "analyst")
    assert (
        await client.delete(f"/v1/api-keys/{parent_id}", headers=owner.headers)
    ).status_code == 204
    for headers in (parent, child, grandchild):
        assert (await client.get("/v1/audit-events", headers=headers)).status_code == 401
    assert (await client.get("/v1/audit-events", headers=sibling)).status_code == 200
