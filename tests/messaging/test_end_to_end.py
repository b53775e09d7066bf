"""A committed transfer event, through a real worker: signed webhook, email and in-app message."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from standardwebhooks import Webhook

from fiscus.core.db import Database
from fiscus.core.events import emit
from fiscus.identity.service import user_provision
from fiscus.messaging.queries import inbox_list
from fiscus.webhooks.queries import deliveries_list
from fiscus.worker import build_job_app, run_worker
from tests import factories
from tests.conftest import make_settings
from tests.factories import keyring_for
from tests.messaging.conftest import Inbox
from tests.messaging.test_messages import transfer_payload, user_context
from tests.webhooks.factories import admin_context, make_endpoint
from tests.webhooks.receiver import Receiver, running


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def test_transfer_event_reaches_webhook_email_and_inbox_through_the_worker(
    db: Database,
    clean_database: str,
    smtp: tuple[Inbox, int],
    tmp_path: object,
) -> None:
    settings = make_settings(
        clean_database,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_security="none",
        webhooks_allow_private=True,
        data_dir=tmp_path,
    )
    # Real tenant and user from identity: the worker's directory reads them from there.
    tenant = await factories.tenant(db)
    admin = admin_context(tenant)
    keyring = await keyring_for(db, settings)
    async with db.uow(tenant_id=tenant) as uow:
        holder = await user_provision(
            uow,
            keyring,
            tenant_id=tenant,
            email="holder@example.com",
            password=factories.PASSWORD,
            role="customer",
        )
    job_app = build_job_app(clean_database)
    with running(Receiver()) as receiver:
        endpoint = await make_endpoint(db, admin, settings, receiver.url)
        async with job_app.open_async():
            worker = asyncio.create_task(
                run_worker(
                    job_app,
                    db=db,
                    settings=settings,
                    keyring=keyring,
                    install_signal_handlers=False,
                )
            )
            try:
                async with db.uow(tenant_id=tenant) as uow:
                    event_id = await emit(
                        uow,
                        tenant_id=tenant,
                        type="transfer.posted",
                        subject="transfer/1",
                        payload=transfer_payload(holder),
                    )

                async def everything_arrived() -> bool:
                    return bool(receiver.requests) and bool(smtp[0].messages)

                assert await _eventually(everything_arrived)
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
    [request] = receiver.requests
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["id"] == str(event_id)
    [mail] = smtp[0].messages
    assert mail["To"] == "holder@example.com" and "12.50 EUR" in mail["Subject"]
    inbox, _ = await inbox_list(
        db,
        user_context(tenant, holder),
        keyring=await keyring_for(db, settings),
        unread_only=True,
        cursor=None,
        limit=10,
    )
    assert [m.event_id for m in inbox] == [event_id]
    [logged], _ = await deliveries_list(db, admin, endpoint_id=endpoint.endpoint.id)
    assert logged.delivery.status == "succeeded"
