"""argon2id parameters (OWASP, configurable), rehash on log-in, and the bounded pool."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import psycopg
import pytest
from argon2 import PasswordHasher
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from fiscus.api import create_app
from fiscus.core.config import ConfigError, load_settings
from fiscus.identity.passwords import password_hashing
from tests.conftest import make_settings
from tests.factories import PASSWORD, Principal, principal

OWASP = "$argon2id$v=19$m=19456,t=2,p=1$"
BURST = 30


@asynccontextmanager
async def _served(
    database_url: str, **overrides: object
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(make_settings(database_url, **overrides))
    async with LifespanManager(app, startup_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client
    create_app(make_settings(database_url))  # the suite's other tests hash with the defaults


def _stored_hash(database_url: str, p: Principal) -> str:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT password_hash FROM users WHERE tenant_id = %s AND id = %s",
            (p.tenant_id, p.user_id),
        ).fetchone()
    assert row is not None
    return str(row[0])


def _store_hash(database_url: str, p: Principal, value: str) -> None:
    with psycopg.connect(database_url) as connection:
        connection.execute(
            "UPDATE users SET password_hash = %s WHERE tenant_id = %s AND id = %s",
            (value, p.tenant_id, p.user_id),
        )


async def _login(client: httpx.AsyncClient, p: Principal, password: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/login", json={"tenant": p.tenant_slug, "email": p.email, "password": password}
    )


async def test_new_hashes_use_owasps_parameters(clean_database: str) -> None:
    async with _served(clean_database) as (app, _):
        p = await principal(app)
        assert _stored_hash(clean_database, p).startswith(OWASP)


async def test_log_in_rehashes_a_hash_made_with_old_parameters(clean_database: str) -> None:
    async with _served(clean_database) as (app, client):
        p = await principal(app)
        # What fiscus stored before: argon2-cffi's RFC 9106 low-memory profile (64 MiB, p=4).
        old = PasswordHasher().hash(PASSWORD)
        assert old.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        _store_hash(clean_database, p, old)
        assert (await _login(client, p, "not the password")).status_code == 401
        assert _stored_hash(clean_database, p) == old  # a wrong password changes nothing
        assert (await _login(client, p, PASSWORD)).status_code == 200
        renewed = _stored_hash(clean_database, p)
        assert renewed.startswith(OWASP)
        # The same password: sessions opened before the rehash stay valid.
        assert (await client.get("/v1/me", headers=p.headers)).status_code == 200
        assert (await _login(client, p, PASSWORD)).status_code == 200
        assert _stored_hash(clean_database, p) == renewed  # current parameters: left alone


async def test_changed_parameters_are_applied_at_the_next_log_in(clean_database: str) -> None:
    async with _served(clean_database, argon2_time_cost=3, argon2_memory_kib=8192) as (app, client):
        p = await principal(app)
        _store_hash(
            clean_database,
            p,
            PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(PASSWORD),
        )
        assert (await _login(client, p, PASSWORD)).status_code == 200
        assert _stored_hash(clean_database, p).startswith("$argon2id$v=19$m=8192,t=3,p=1$")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FISCUS_ARGON2_MEMORY_KIB", "1024"),
        ("FISCUS_ARGON2_TIME_COST", "0"),
        ("FISCUS_ARGON2_PARALLELISM", "0"),
        ("FISCUS_PASSWORD_HASH_CONCURRENCY", "0"),
        ("FISCUS_PASSWORD_HASH_QUEUE", "-1"),
    ],
)
def test_weak_or_impossible_hashing_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name.removeprefix("FISCUS_").lower()):
        load_settings()


async def test_a_burst_of_logins_does_not_stall_other_work(clean_database: str) -> None:
    async with _served(clean_database, password_hash_concurrency=1, password_hash_queue=BURST) as (
        app,
        client,
    ):
        p = await principal(app)
        logins_done = 0
        during_probe: list[int] = []
        during_request: list[int] = []

        async def login() -> int:
            nonlocal logins_done
            response = await _login(client, p, PASSWORD)
            logins_done += 1
            return response.status_code

        async def other_work() -> None:
            # Until the burst is over: the process's default thread pool (DNS look-ups,
            # Maildir writes) and a cheap authenticated request must keep moving. Progress
            # is counted in log-ins finished while each one ran, not in seconds.
            for _ in range(1000):
                if logins_done >= BURST:
                    return
                before = logins_done
                await asyncio.to_thread(lambda: None)
                during_probe.append(logins_done - before)
                before = logins_done
                assert (await client.get("/v1/me", headers=p.headers)).status_code == 200
                during_request.append(logins_done - before)

        logins = [asyncio.create_task(login()) for _ in range(BURST)]
        await other_work()
        assert await asyncio.gather(*logins) == [200] * BURST
    assert during_probe and during_request
    # Unbounded, the burst's hashes fill the default pool and a look-up waits behind most
    # of them; bounded, the hashes wait in their own queue, one at a time.
    assert max(during_probe) <= BURST // 3, during_probe
    assert max(during_request) <= BURST // 3, during_request


async def test_a_full_hashing_queue_refuses_at_once_and_counts_no_guess(
    clean_database: str,
) -> None:
    async with _served(clean_database, password_hash_concurrency=1, password_hash_queue=2) as (
        app,
        client,
    ):
        p = await principal(app)
        hashing = password_hashing()
        # The one hashing thread is held busy until the gate opens, whatever the machine's
        # load: then exactly two log-ins may wait and every other one is refused at once.
        gate = threading.Event()
        held = asyncio.create_task(hashing.run(lambda: gate.wait(60)))
        for _ in range(6000):
            if hashing.limiter.borrowed_tokens:
                break
            await asyncio.sleep(0.01)
        # Half of them with a wrong password: a refused one must not count as a guess.
        passwords = [PASSWORD if i % 2 else "wrong password " + str(i) for i in range(12)]
        burst = [asyncio.create_task(_login(client, p, pw)) for pw in passwords]
        for _ in range(6000):
            if hashing.waiting() == 2 and sum(t.done() for t in burst) == 10:
                break
            await asyncio.sleep(0.01)
        refused = [t.result() for t in burst if t.done()]
        assert len(refused) == 10, [r.status_code for r in refused]
        for response in refused:
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["type"].endswith("/password-hashing-busy")
            assert int(response.headers["Retry-After"]) >= 1
        gate.set()
        await held
        statuses = [r.status_code for r in await asyncio.gather(*burst)]
        checked = [s for s in statuses if s != 503]
        assert len(checked) == 2 and set(checked) <= {200, 401}, statuses
        # Only the checked wrong passwords were recorded as failures.
        with psycopg.connect(clean_database) as connection:
            row = connection.execute(
                "SELECT count(*) FROM login_events WHERE tenant_id = %s AND outcome = 'failure'",
                (p.tenant_id,),
            ).fetchone()
        assert row is not None
        assert row[0] == statuses.count(401)
        # Once the burst has drained, log-ins are checked again.
        assert (await _login(client, p, PASSWORD)).status_code == 200
