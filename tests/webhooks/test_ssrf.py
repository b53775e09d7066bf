"""SSRF: loopback, private, link-local and metadata addresses refused; redirects not followed."""

from __future__ import annotations

import pytest

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.webhooks.errors import UnsafeWebhookUrl
from fiscus.webhooks.queries import deliveries_list
from tests.conftest import make_settings
from tests.webhooks.factories import admin_context, dispatch_webhooks, emit_and_relay, make_endpoint
from tests.webhooks.receiver import Receiver, Reply, running

REFUSED = [
    "https://127.0.0.1/hook",
    "http://127.1.2.3:8080/hook",
    "https://localhost/hook",
    "http://169.254.169.254/latest/meta-data/",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://172.16.5.4/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[fd00:ec2::254]/hook",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "ftp://93.184.215.14/hook",
    "https://user:pass@93.184.215.14/hook",
    "not a url",
]


@pytest.fixture
def strict(clean_database: str) -> Settings:
    """Production-like settings: private addresses refused."""
    return make_settings(clean_database)


@pytest.mark.parametrize("url", REFUSED)
async def test_unsafe_urls_are_refused_at_creation(
    db: Database, strict: Settings, url: str
) -> None:
    with pytest.raises(UnsafeWebhookUrl):
        await make_endpoint(db, admin_context(), strict, url)


async def test_public_address_is_accepted(db: Database, strict: Settings) -> None:
    created = await make_endpoint(db, admin_context(), strict, "https://93.184.215.14/hook")
    assert created.endpoint.enabled


async def test_address_is_checked_again_at_delivery(
    db: Database, settings: Settings, strict: Settings
) -> None:
    ctx = admin_context()
    with running(Receiver()) as receiver:
        # Saved while loopback was allowed; delivered by a worker that refuses it.
        created = await make_endpoint(db, ctx, settings, receiver.url)
        await emit_and_relay(db, ctx.tenant_id)
        assert await dispatch_webhooks(db, strict) == 1
    assert receiver.requests == []
    [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
    assert logged.delivery.status == "pending"
    assert (logged.delivery.last_error or "").startswith("refused:")
    assert logged.attempts[0].response_status is None


async def test_redirects_are_not_followed(db: Database, settings: Settings) -> None:
    ctx = admin_context()
    with running(Receiver()) as inside:
        redirect = Reply(307, headers={"Location": inside.url + "/internal"})
        with running(Receiver(default=redirect)) as outside:
            created = await make_endpoint(db, ctx, settings, outside.url)
            await emit_and_relay(db, ctx.tenant_id)
            await dispatch_webhooks(db, settings)
    assert len(outside.requests) == 1
    assert inside.requests == [], "the redirect target is never contacted"
    [logged], _ = await deliveries_list(db, ctx, endpoint_id=created.endpoint.id)
    assert logged.delivery.status == "pending", "a redirect is a failure to retry"
    assert logged.attempts[0].response_status == 307
