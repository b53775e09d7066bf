"""A posted ledger transfer ends in a signed webhook, an email and an in-app message."""

from __future__ import annotations

from standardwebhooks import Webhook

from fiscus.access.context import Context
from fiscus.access.policy import BUILTIN_ROLES
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import events_relay_batch
from fiscus.ledger.schemas import AccountCreate, TransferCreate
from fiscus.ledger.service import account_create, transfer_create
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.messaging.queries import inbox_list
from fiscus.webhooks.queries import deliveries_list
from fiscus.worker import install_event_subscribers
from tests.conftest import make_settings
from tests.factories import keyring_for
from tests.messaging.conftest import Inbox, Users
from tests.messaging.test_messages import user_context
from tests.webhooks.factories import admin_context, dispatch_webhooks, make_endpoint
from tests.webhooks.receiver import Receiver, running


async def test_posting_a_ledger_transfer_mails_and_notifies_the_holder(
    db: Database, settings: Settings, smtp: tuple[Inbox, int], directory: Users, clean_database: str
) -> None:
    install_event_subscribers()
    tenant = directory.tenant_id
    holder = await directory.add("holder@example.com")
    ops = Context(
        tenant_id=tenant,
        actor_type="user",
        actor_id=holder,
        role="owner",
        permissions=BUILTIN_ROLES["owner"].permissions,
    )
    settings = make_settings(
        clean_database,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_security="none",
        webhooks_allow_private=True,
    )
    with running(Receiver()) as receiver:
        endpoint = await make_endpoint(db, admin_context(tenant), settings, receiver.url)
        bank = await account_create(
            db=db,
            ctx=ops,
            request=AccountCreate(
                code="bank", name="Bank", currency="EUR", type="asset", normal_side="debit"
            ),
        )
        wallet = await account_create(
            db=db,
            ctx=ops,
            request=AccountCreate(
                code="wallet",
                name="Wallet",
                currency="EUR",
                type="liability",
                normal_side="credit",
                metadata={"holder_user_id": str(holder)},
            ),
        )
        await transfer_create(
            db=db,
            ctx=ops,
            request=TransferCreate(
                debit_account_id=bank.id, credit_account_id=wallet.id, amount=1250, currency="EUR"
            ),
        )
        keyring = await keyring_for(db, settings)
        while await events_relay_batch(db, keyring=keyring):
            pass
        await dispatch_webhooks(db, settings)
        await messages_dispatch(db, settings=settings, keyring=keyring)
    [request] = receiver.requests
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "transfer.posted"
    assert body["tenant_id"] == str(tenant)
    [mail] = smtp[0].messages
    assert mail["To"] == "holder@example.com"
    assert mail["Subject"] == "Transfer posted: 12.50 EUR"
    inbox, _ = await inbox_list(
        db, user_context(tenant, holder), keyring=keyring, unread_only=True, cursor=None, limit=5
    )
    assert len(inbox) == 1
    [logged], _ = await deliveries_list(db, admin_context(tenant), endpoint_id=endpoint.endpoint.id)
    assert logged.delivery.status == "succeeded"
