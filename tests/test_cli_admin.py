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
    # --plan at creation is part of the creation (one transaction); set-plan is a change.
    assert audited == (1,)


def test_a_new_tenant_gets_the_operators_default_plan(clean_database: str) -> None:
    import psycopg

    plans = (
        '{"basic": {"per_minute": 60, "burst_per_s": 5},'
        ' "pro": {"per_minute": 900, "burst_per_s": 90}}'
    )
    configured = {"FISCUS_PLAN_LIMITS": plans, "FISCUS_DEFAULT_PLAN": "basic"}
    assert (
        _run(
            clean_database, "admin", "create-tenant", "small", "--name", "S", **configured
        ).returncode
        == 0
    )
    pro = _run(
        clean_database,
        "admin",
        "create-tenant",
        "big",
        "--name",
        "B",
        "--plan",
        "pro",
        **configured,
    )
    assert pro.returncode == 0, pro.stderr
    unknown = _run(
        clean_database,
        "admin",
        "create-tenant",
        "x1",
        "--name",
        "X",
        "--plan",
        "enterprise",
        **configured,
    )
    assert unknown.returncode == 2 and "basic, pro" in unknown.stderr
    assert _run(clean_database, "admin", "create-tenant", "plain", "--name", "P").returncode == 0
    bad = _run(
        clean_database, "admin", "create-tenant", "x2", "--name", "X", FISCUS_DEFAULT_PLAN="gold"
    )
    assert bad.returncode == 2 and "FISCUS_DEFAULT_PLAN" in bad.stderr
    with psycopg.connect(clean_database) as db:
        rows = dict(db.execute("SELECT slug, settings->>'plan' FROM tenants").fetchall())
    # Without FISCUS_DEFAULT_PLAN the default is enterprise, whose budget is above the
    # per-address abuse limits: a self-hosted install does not throttle its integrations.
    assert rows == {"small": "basic", "big": "pro", "plain": "enterprise"}
