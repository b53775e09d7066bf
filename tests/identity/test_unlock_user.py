"""`fiscus admin unlock-user`: the operator lifts a lockout, in one tenant or every tenant."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text

from fiscus.identity.throttle import account_subject
from tests.conftest import TEST_SECRET
from tests.factories import PASSWORD, Principal, principal
from tests.identity.test_throttling import _app, _login
from tests.live import fiscus_cli


def _unlock(database_url: str, redis: tuple[str, str] | None, *args: str) -> str:
    """Run the command; `redis` is (URL, counter prefix) of the API's Redis, or None."""
    env = {
        "FISCUS_DATABASE_URL": database_url,
        "FISCUS_SECRET_KEY": TEST_SECRET,
        "FISCUS_ENV": "test",
        "FISCUS_LOG_LEVEL": "WARNING",
    }
    if redis is not None:
        env |= {"FISCUS_REDIS_URL": redis[0], "FISCUS_RATE_LIMIT_PREFIX": redis[1]}
    done = fiscus_cli("admin", "unlock-user", *args, env=env, timeout_s=120)
    return f"{done.returncode}\n{done.stdout}\n{done.stderr}"


async def _lock_account(app: FastAPI, p: Principal) -> None:
    """Ten failed guesses counted on the account alone, as the login path counts them."""
    config = app.state.identity.config
    for _ in range(config.lockout_threshold):
        await app.state.identity.throttle.login_failed(
            subjects=[account_subject(p.tenant_id, p.user_id)], ip="203.0.113.9", kind="password"
        )


async def _unlocks(app: FastAPI, tenant_id: uuid.UUID) -> int:
    async with app.state.db.uow() as uow:
        found = await uow.session.execute(
            text(
                "SELECT count(*) FROM audit_events WHERE action = 'user.unlocked'"
                " AND tenant_id = :tenant AND actor_type = 'system'"
            ),
            {"tenant": tenant_id},
        )
    return int(found.scalar_one())


async def test_unlock_in_one_tenant_then_in_every_tenant(
    clean_database: str, redis_url: str
) -> None:
    prefix = "unlock-" + secrets.token_hex(8)
    app = _app(clean_database, redis_url, prefix)
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        email = f"locked-{secrets.token_hex(4)}@example.com"
        in_a = await principal(app, email=email)
        in_b = await principal(app, email=email)  # another tenant, same person
        for _ in range(10):
            assert (await _login(client, in_a, "wrong password")).status_code == 401
        await _lock_account(app, in_b)
        for p in (in_a, in_b):
            assert (await _login(client, p, PASSWORD)).status_code == 429

        one = await asyncio.to_thread(
            _unlock,
            clean_database,
            (redis_url, prefix),
            "--email",
            email.upper(),
            "--tenant",
            in_a.tenant_slug,
        )
        assert one.startswith("0\n"), one
        assert str(in_a.user_id) in one and str(in_b.user_id) not in one
        assert (await _login(client, in_a, PASSWORD)).status_code == 200
        # The address counter is cleared too, but b's own account stays locked.
        assert (await _login(client, in_b, PASSWORD)).status_code == 429
        assert await _unlocks(app, in_a.tenant_id) == 1
        assert await _unlocks(app, in_b.tenant_id) == 0

        every = await asyncio.to_thread(
            _unlock, clean_database, (redis_url, prefix), "--email", email
        )
        assert every.startswith("0\n"), every
        assert (await _login(client, in_b, PASSWORD)).status_code == 200
        assert await _unlocks(app, in_a.tenant_id) == 2
        assert await _unlocks(app, in_b.tenant_id) == 1


async def test_unknown_person_or_tenant_is_refused_and_nothing_is_recorded(
    clean_database: str, redis_url: str
) -> None:
    prefix = "unlock-" + secrets.token_hex(8)
    app = _app(clean_database, redis_url, prefix)
    async with LifespanManager(app):
        p = await principal(app)
        nobody = await asyncio.to_thread(
            _unlock, clean_database, (redis_url, prefix), "--email", "nobody@example.com"
        )
        assert nobody.startswith("1\n") and "User not found" in nobody, nobody
        elsewhere = await asyncio.to_thread(
            _unlock,
            clean_database,
            (redis_url, prefix),
            "--email",
            p.email,
            "--tenant",
            "no-such-tenant",
        )
        assert elsewhere.startswith("1\n") and "Tenant not found" in elsewhere, elsewhere
        assert await _unlocks(app, p.tenant_id) == 0


def test_without_redis_the_command_says_it_cannot_reach_the_counters(clean_database: str) -> None:
    refused = _unlock(clean_database, None, "--email", "ada@example.com")
    assert refused.startswith("2\n") and "FISCUS_REDIS_URL" in refused, refused
