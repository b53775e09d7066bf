"""Refused bearer credentials are audited in their tenant, at most once per window per
address, credential kind and tenant, with a count; never with the credential itself."""

from __future__ import annotations

import asyncio
import json
import secrets
from datetime import timedelta

import psycopg

from fiscus.core import clock
from fiscus.identity.tokens import access_token_issue

ACTION = "auth.bearer_rejected"


def _records(database_url: str) -> list[tuple[str, str, str | None, dict]]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT tenant_id::text, object_type, object_id, changes FROM audit_events"
            " WHERE action = %s ORDER BY id",
            (ACTION,),
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def test_a_flood_with_a_revoked_key_leaves_one_record_with_a_count(
    app, client, make_principal, clean_database: str
) -> None:
    owner = await make_principal()
    created = await client.post(
        "/v1/api-keys", json={"name": "svc", "role": "analyst"}, headers=owner.headers
    )
    key, key_id = created.json()["key"], created.json()["id"]
    assert (await client.delete(f"/v1/api-keys/{key_id}", headers=owner.headers)).status_code == 204
    auth = {"Authorization": f"Bearer {key}"}
    for _ in range(5):
        assert (await client.get("/v1/me", headers=auth)).status_code == 401
    [(tenant, object_type, object_id, changes)] = _records(clean_database)
    assert (tenant, object_type, object_id) == (str(owner.tenant_id), "api_key", key_id)
    assert changes["details"] == {
        "reason": "token-invalid",
        "credential": "api_key",
        "failures": 1,
        "window_s": 60,
    }
    assert key not in json.dumps(changes) and key[8:20] not in json.dumps(changes)

    # Windows of one second: every failure is counted in exactly one record, and the
    # records stay fewer than the failures.
    app.state.identity.config.bearer_failure_window_s = 1
    app.state.identity.config.rate_limit_prefix += "-2"  # past the first part's window
    failures = 6
    for index in range(failures):
        if index == failures - 1:
            await asyncio.sleep(1.2)  # the next window
        assert (await client.get("/v1/me", headers=auth)).status_code == 401
    later = _records(clean_database)[1:]
    assert 2 <= len(later) < failures
    assert sum(changes["details"]["failures"] for *_, changes in later) == failures


async def test_expired_tokens_and_ended_sessions_are_recorded_in_their_tenant(
    app, client, make_principal, clean_database: str
) -> None:
    p = await make_principal()
    identity = app.state.identity
    expired = access_token_issue(
        identity.ring,
        issuer=identity.config.issuer,
        audience=identity.config.audience,
        user_id=p.user_id,
        tenant_id=p.tenant_id,
        session_id=p.session_id,
        now=clock.now() - timedelta(hours=1),
        ttl_s=60,
    )
    refused = await client.get("/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert refused.status_code == 401
    assert (await client.post("/v1/auth/logout", headers=p.headers)).status_code in (200, 204)
    # Same address, kind and tenant within the minute: counted, not recorded again.
    assert (await client.get("/v1/me", headers=p.headers)).status_code == 401
    [(tenant, object_type, object_id, changes)] = _records(clean_database)
    assert (tenant, object_type, object_id) == (str(p.tenant_id), "session", str(p.session_id))
    assert changes["details"]["credential"] == "jwt"
    text = json.dumps(changes)
    assert expired not in text and p.access_token not in text


async def test_credentials_fiscus_never_issued_are_attributed_to_no_tenant(
    client, make_principal, clean_database: str
) -> None:
    p = await make_principal()
    header, payload, _ = p.access_token.split(".")
    forged = f"{header}.{payload}.{secrets.token_urlsafe(32)}"
    for token in (forged, "fsk_" + secrets.token_urlsafe(32), "garbage"):
        answer = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401
    # A forged token names a tenant, but only on the sender's word: nothing is written there.
    assert _records(clean_database) == []
    assert (await client.get("/v1/me", headers=p.headers)).status_code == 200
