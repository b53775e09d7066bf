"""`fiscus admin create-tenant / create-user / permissions-doc` as scripts call them."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.conftest import TEST_SECRET


def _run(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "FISCUS_DATABASE_URL": database_url,
        "FISCUS_SECRET_KEY": TEST_SECRET,
        "FISCUS_ENV": "test",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "fiscus.cli", *args],
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_bootstrap_an_empty_install_and_log_in(clean_database: str) -> None:
    import httpx

    created = _run(clean_database, "admin", "create-tenant", "acme", "--name", "Acme Ltd")
    assert created.returncode == 0, created.stderr
    tenant_id = uuid.UUID(created.stdout.strip())
    user = _run(
        clean_database,
        "admin",
        "create-user",
        "--tenant",
        "acme",
        "--email",
        "Ada@Example.com",
        "--role",
        "owner",
        FISCUS_PASSWORD="first admin password",
    )
    assert user.returncode == 0, user.stderr
    user_id = uuid.UUID(user.stdout.strip())
    duplicate = _run(clean_database, "admin", "create-tenant", "acme", "--name", "Again")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    weak = _run(
        clean_database,
        "admin",
        "create-user",
        "--tenant",
        "acme",
        "--email",
        "bob@example.com",
        "--role",
        "owner",
        FISCUS_PASSWORD="password",
    )
    assert weak.returncode == 1
    no_role = _run(
        clean_database,
        "admin",
        "create-user",
        "--tenant",
        "acme",
        "--email",
        "bob@example.com",
        "--role",
        "wizard",
        FISCUS_PASSWORD="long enough pass",
    )
    assert no_role.returncode == 1
    assert tenant_id != user_id

    from fiscus.api import create_app
    from tests.conftest import make_settings

    async def login() -> int:
        from asgi_lifespan import LifespanManager

        app = create_app(make_settings(clean_database))
        async with LifespanManager(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post(
                    "/v1/auth/login",
                    json={
                        "tenant": "acme",
                        "email": "ada@example.com",
                        "password": "first admin password",
                    },
                )
                return response.status_code

    import asyncio

    assert asyncio.run(login()) == 200


def test_permissions_doc_check(tmp_path: Path, clean_database: str) -> None:
    target = tmp_path / "permissions.md"
    stale = _run(clean_database, "admin", "permissions-doc", "--check", "-o", str(target))
    assert stale.returncode == 1
    written = _run(clean_database, "admin", "permissions-doc", "-o", str(target))
    assert written.returncode == 0
    assert (
        _run(clean_database, "admin", "permissions-doc", "--check", "-o", str(target)).returncode
        == 0
    )
    assert "| `transfers:create` |" in target.read_text()


def test_the_operator_sets_a_tenants_plan(clean_database: str) -> None:
    import psycopg

    created = _run(
        clean_database, "admin", "create-tenant", "bigco", "--name", "Big", "--plan", "enterprise"
    )
    assert created.returncode == 0, created.stderr
    unknown = _run(clean_database, "admin", "set-plan", "bigco", "platinum")
    assert unknown.returncode == 2 and "Unknown plan" in unknown.stderr
    missing = _run(clean_database, "admin", "set-plan", "nobody", "free")
    assert missing.returncode == 1 and "No tenant" in missing.stderr
    lowered = _run(clean_database, "admin", "set-plan", "bigco", "free")
    assert lowered.returncode == 0, lowered.stderr
    with psycopg.connect(clean_database) as db:
        plan = db.execute("SELECT settings->>'plan' FROM tenants WHERE slug = 'bigco'").fetchone()
        audited = db.execute(
            "SELECT count(*) FROM audit_events WHERE action = 'tenant.settings_changed'"
        ).fetchone()
    assert plan == ("free",)
    assert audited == (2,)  # --plan at creation, then set-plan


def test_create_tenant_with_a_plan_is_one_transaction(clean_database: str) -> None:
    """The tenant, its plan and the audit record commit together: when the audit record
    cannot be written, no tenant is left behind (it once was, on the default plan)."""
    import psycopg

    refuse = (
        "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'audit trail unavailable'; END $$;"
        " CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events"
        " FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()"
    )
    with psycopg.connect(clean_database, autocommit=True) as db:
        db.execute(refuse)
    try:
        failed = _run(
            clean_database, "admin", "create-tenant", "halfway", "--name", "H", "--plan", "free"
        )
    finally:
        with psycopg.connect(clean_database, autocommit=True) as db:
            db.execute("DROP TRIGGER test_refuse_audit ON audit_events")
            db.execute("DROP FUNCTION test_refuse_audit()")
    assert failed.returncode != 0
    assert "audit trail unavailable" in failed.stderr
    with psycopg.connect(clean_database) as db:
        left = db.execute("SELECT count(*) FROM tenants WHERE slug = 'halfway'").fetchone()
    assert left == (0,)
