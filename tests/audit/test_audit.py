"""The audit trail: same-transaction writes, append-only, hash chain, verify, the API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from fiscus.access.context import Context
from fiscus.audit.chain import audit_seal, audit_verify
from fiscus.audit.models import AuditEvent
from fiscus.audit.service import audit_record, changed_fields
from fiscus.core.db import libpq_url
from tests.conftest import TEST_SECRET

TENANT = uuid.UUID("01900000-0000-7000-8000-0000000000a1")


def _ctx(tenant_id: uuid.UUID = TENANT) -> Context:
    return Context(
        tenant_id=tenant_id,
        actor_type="user",
        actor_id=uuid.uuid4(),
        role="admin",
        permissions=frozenset(),
        request_id="req-1",
        client_ip="203.0.113.5",
    )


async def _write(db, n: int, tenant_id: uuid.UUID = TENANT) -> None:
    for index in range(n):
        async with db.uow(tenant_id=tenant_id) as uow:
            await audit_record(
                uow,
                ctx=_ctx(tenant_id),
                action="thing.changed",
                object_type="thing",
                object_id=index,
                before={"limit": index},
                after={"limit": index + 1},
            )


async def test_record_rolls_back_with_its_transaction(db) -> None:
    with pytest.raises(RuntimeError):
        async with db.uow(tenant_id=TENANT) as uow:
            await audit_record(uow, ctx=_ctx(), action="thing.changed")
            raise RuntimeError("the use case failed")
    async with db.uow() as uow:
        assert (await uow.session.execute(select(AuditEvent))).first() is None


def test_secrets_are_redacted_and_only_changes_kept() -> None:
    changes = changed_fields(
        {"role": "a", "name": "x", "password_hash": "h1"},
        {"role": "b", "name": "x", "password_hash": "h2"},
    )
    assert changes["role"] == {"before": "a", "after": "b"}
    assert "name" not in changes
    assert changes["password_hash"] == {"before": "[redacted]", "after": "[redacted]"}


async def test_append_only_refuses_update_and_delete(db) -> None:
    await _write(db, 1)
    for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.uow() as uow:  # even the owning role
                await uow.session.execute(text(statement))


async def test_concurrent_writers_and_sealers_give_one_contiguous_chain(db) -> None:
    other = uuid.uuid4()
    await asyncio.gather(*(_write(db, 5) for _ in range(6)), _write(db, 4, other))
    sealed = await asyncio.gather(audit_seal(db), audit_seal(db), audit_seal(db))
    assert sum(sealed) == 34
    assert await audit_seal(db) == 0
    reports = {r.tenant_id: r for r in await audit_verify(db)}
    assert reports[TENANT].ok and reports[TENANT].checked == 30
    assert reports[other].ok and reports[other].checked == 4
    async with db.uow() as uow:
        seqs = (
            (
                await uow.session.execute(
                    select(AuditEvent.chain_seq)
                    .where(AuditEvent.tenant_id == TENANT)
                    .order_by(AuditEvent.chain_seq)
                )
            )
            .scalars()
            .all()
        )
    assert seqs == list(range(1, 31))


def _tamper(database_url: str, sql: str, *params: object) -> None:
    """As the superuser, with triggers off: what an attacker with database access can do."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as connection:
        connection.execute("SET session_replication_role = replica")
        connection.execute(sql, params)


async def test_tampering_is_found_at_the_row(db, clean_database) -> None:
    await _write(db, 5)
    await audit_seal(db)
    async with db.uow() as uow:
        third = (
            await uow.session.execute(select(AuditEvent.id).where(AuditEvent.chain_seq == 3))
        ).scalar_one()
    _tamper(clean_database, "UPDATE audit_events SET changes = '{}' WHERE id = %s", third)
    [report] = await audit_verify(db, tenant_id=TENANT)
    assert not report.ok
    assert report.first_broken_id == third
    assert report.first_broken_seq == 3
    assert report.reason == "content does not match its hash"


async def test_a_deleted_row_is_found_as_a_gap(db, clean_database) -> None:
    await _write(db, 4)
    await audit_seal(db)
    _tamper(clean_database, "DELETE FROM audit_events WHERE chain_seq = 2")
    [report] = await audit_verify(db)
    assert report.first_broken_seq == 3
    assert "position 2" in (report.reason or "")


async def test_cli_verify_names_the_first_broken_row(db, clean_database) -> None:
    await _write(db, 3)
    env = {
        **os.environ,
        "FISCUS_DATABASE_URL": clean_database,
        "FISCUS_SECRET_KEY": TEST_SECRET,
        "FISCUS_ENV": "test",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fiscus.cli", "audit", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    sealed = await asyncio.to_thread(run, "seal")
    assert sealed.returncode == 0, sealed.stderr
    good = await asyncio.to_thread(run, "verify")
    assert good.returncode == 0 and "intact" in good.stdout
    async with db.uow() as uow:
        second = (
            await uow.session.execute(select(AuditEvent.id).where(AuditEvent.chain_seq == 2))
        ).scalar_one()
    _tamper(clean_database, "UPDATE audit_events SET action = 'forged' WHERE id = %s", second)
    bad = await asyncio.to_thread(run, "verify")
    assert bad.returncode == 1
    assert f"BROKEN at row {second}" in bad.stdout


async def test_api_lists_with_filters_and_records_denials(client, make_principal) -> None:
    admin = await make_principal(role="admin")
    analyst = await make_principal(role="analyst", tenant_id=admin.tenant_id)
    refused = await client.post(
        "/v1/api-keys", json={"name": "x", "role": "analyst"}, headers=analyst.headers
    )
    assert refused.status_code == 403
    changed = await client.patch(
        f"/v1/users/{analyst.user_id}", json={"role": "operator"}, headers=admin.headers
    )
    assert changed.status_code == 200
    denied = await client.get(
        "/v1/audit-events", params={"outcome": "denied"}, headers=admin.headers
    )
    assert denied.status_code == 200
    [row] = denied.json()["data"]
    assert row["action"] == "access.denied"
    assert row["actor_id"] == str(analyst.user_id)
    assert row["changes"]["details"]["permission"] == "api_keys:manage"
    updates = await client.get(
        "/v1/audit-events",
        params={"action": "user.updated", "object_id": str(analyst.user_id)},
        headers=admin.headers,
    )
    [update] = updates.json()["data"]
    assert update["changes"]["fields"]["role"] == {"before": "analyst", "after": "operator"}
    assert update["ip"] == "127.0.0.1"
    page = await client.get("/v1/audit-events", params={"limit": 1}, headers=admin.headers)
    assert len(page.json()["data"]) == 1 and page.json()["next_cursor"]
    one = await client.get(f"/v1/audit-events/{row['id']}", headers=admin.headers)
    assert one.json()["id"] == row["id"]
