"""FISCUS_TRUSTED_PROXIES: Forwarded / X-Forwarded-For are believed only from trusted proxies,
and then the rate limiter and the audit trail use the client's address, not the proxy's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import select

from fiscus.api import create_app
from fiscus.audit.models import AuditEvent
from fiscus.core.config import ConfigError, load_settings
from fiscus.core.proxies import parse_networks, resolve_client
from tests.conftest import make_settings
from tests.factories import principal

PROXY = "10.1.2.3"


@pytest.fixture
async def app(clean_database: str) -> AsyncIterator[FastAPI]:
    application = create_app(
        make_settings(clean_database, trusted_proxies=parse_networks(["10.0.0.0/8", "fd00::/8"]))
    )
    async with LifespanManager(application):
        application.state.identity.config.ip_requests_per_minute = 2
        yield application


def _client(app: FastAPI, peer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def _statuses(client: httpx.AsyncClient, n: int, **headers: str) -> list[int]:
    return [(await client.get("/v1/me", headers=headers)).status_code for _ in range(n)]


async def test_clients_behind_a_trusted_proxy_get_their_own_address_budget(app) -> None:
    async with _client(app, PROXY) as via_proxy:
        # Without trusting the proxy, both clients would share (and spend) its budget.
        assert await _statuses(via_proxy, 3, **{"X-Forwarded-For": "198.51.100.1"}) == [
            401,
            401,
            429,
        ]
        assert await _statuses(via_proxy, 2, **{"X-Forwarded-For": "198.51.100.2"}) == [401, 401]
        forwarded = {"Forwarded": 'for="[2001:db8::7]:4711";proto=https'}
        assert await _statuses(via_proxy, 2, **forwarded) == [401, 401]


async def test_forwarding_headers_from_an_untrusted_peer_are_ignored(app) -> None:
    async with _client(app, "203.0.113.9") as direct:
        assert await _statuses(direct, 2, **{"X-Forwarded-For": "198.51.100.1"}) == [401, 401]
        # A new spoofed address does not buy a new budget: the peer's own is spent.
        assert await _statuses(direct, 1, **{"X-Forwarded-For": "198.51.100.99"}) == [429]
        assert await _statuses(direct, 1, Forwarded="for=198.51.100.98") == [429]


async def test_a_client_cannot_hide_behind_a_forged_left_hop(app) -> None:
    # The client wrote "198.51.100.50" itself; our proxy appended the address it saw.
    forged = {"X-Forwarded-For": "198.51.100.50, 192.0.2.77"}
    async with _client(app, PROXY) as via_proxy:
        assert await _statuses(via_proxy, 2, **forged) == [401, 401]
        assert await _statuses(via_proxy, 1, **{"X-Forwarded-For": "192.0.2.77"}) == [429]


async def test_the_audit_trail_records_the_resolved_client_address(app) -> None:
    analyst = await principal(app, role="analyst")
    app.state.identity.config.ip_requests_per_minute = 100
    headers = {**analyst.headers, "X-Forwarded-For": "198.51.100.23, 10.9.9.9"}
    async with _client(app, PROXY) as via_proxy:
        refused = await via_proxy.post("/v1/api-keys", json={"name": "k"}, headers=headers)
    assert refused.status_code == 403
    async with app.state.db.uow(tenant_id=analyst.tenant_id) as uow:
        ips = (
            await uow.session.scalars(
                select(AuditEvent.ip).where(AuditEvent.action == "access.denied")
            )
        ).all()
    assert ips == ["198.51.100.23"]


@pytest.mark.parametrize(
    ("peer", "hops", "expected"),
    [
        ("10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["198.51.100.1", "10.0.0.2"], "198.51.100.1"),
        ("10.0.0.1", ["10.0.0.3", "10.0.0.2"], "10.0.0.3"),  # every hop ours: the leftmost
        ("10.0.0.1", ["garbage", "198.51.100.1"], "198.51.100.1"),
        ("10.0.0.1", ["198.51.100.1", "unknown"], "10.0.0.1"),  # unreadable: stop at ours
        ("10.0.0.1", ['"[2001:db8::1]:80"'], "2001:db8::1"),
        ("10.0.0.1", ["192.0.2.5:1234"], "192.0.2.5"),
        ("10.0.0.1", [], "10.0.0.1"),
        ("192.0.2.1", ["198.51.100.1"], "192.0.2.1"),
        ("::ffff:10.0.0.1", ["198.51.100.1"], "198.51.100.1"),
    ],
)
def test_resolution_walks_from_the_nearest_hop(peer: str, hops: list[str], expected: str) -> None:
    assert resolve_client(peer, hops, parse_networks(["10.0.0.0/8"])) == expected


def test_trusted_proxies_setting_parses_cidrs_and_refuses_garbage(monkeypatch) -> None:
    monkeypatch.setenv("FISCUS_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 ::1")
    assert [str(n) for n in load_settings().trusted_proxies] == [
        "10.0.0.0/8",
        "192.168.1.7/32",
        "::1/128",
    ]
    monkeypatch.setenv("FISCUS_TRUSTED_PROXIES", "10.0.0.0/33")
    with pytest.raises(ConfigError, match=r"10\.0\.0\.0/33"):
        load_settings()
