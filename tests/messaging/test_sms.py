"""SMS through a Twilio-compatible API: a local server answering as Twilio's Messages API does."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs

from sqlalchemy import select

from fiscus.core.db import Database
from fiscus.messaging._sealing import message_open
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.messaging.models import Message
from fiscus.messaging.service import preferences_set, profile_set
from tests.conftest import make_settings
from tests.factories import keyring_for
from tests.messaging.conftest import Users
from tests.messaging.test_messages import emit_relayed, transfer_payload, user_context
from tests.webhooks.receiver import Receiver, Reply, running

ACCOUNT = "AC3f5c0d8e2b7a4c1e9f6d2b8a7c5e3f10"
SID = "SM8d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a"

# Shapes recorded from Twilio's documented Messages resource (create) and error responses.
CREATED = {
    "account_sid": ACCOUNT,
    "api_version": "2010-04-01",
    "body": "fiscus: transfer posted, credit 12.50 EUR.",
    "date_created": "Sun, 22 Nov 2026 15:40:00 +0000",
    "date_sent": None,
    "date_updated": "Sun, 22 Nov 2026 15:40:00 +0000",
    "direction": "outbound-api",
    "error_code": None,
    "error_message": None,
    "from": "+15005550006",
    "messaging_service_sid": None,
    "num_media": "0",
    "num_segments": "1",
    "price": None,
    "price_unit": "USD",
    "sid": SID,
    "status": "queued",
    "subresource_uris": {"media": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}/Media.json"},
    "to": "+33612345678",
    "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}.json",
}
INVALID_TO = {
    "code": 21211,
    "message": "The 'To' number +000 is not a valid phone number.",
    "more_info": "https://www.twilio.com/docs/errors/21211",
    "status": 400,
}


async def test_sms_goes_through_the_twilio_api_and_a_bad_number_fails_for_good(
    db: Database, clean_database: str, directory: Users
) -> None:
    tenant = directory.tenant_id
    good = await directory.add("g@example.com")
    bad = await directory.add("b@example.com")
    for user, phone in ((good, "+33612345678"), (bad, "+000")):
        ctx = user_context(tenant, user)
        await profile_set(
            db,
            ctx,
            keyring=await keyring_for(db),
            phone=phone,
            timezone="UTC",
            quiet_start=None,
            quiet_end=None,
        )
        await preferences_set(db, ctx, category="transactions", channels=["sms"])
    script = [
        Reply(201, {"content-type": "application/json"}, json.dumps(CREATED).encode()),
        Reply(400, {"content-type": "application/json"}, json.dumps(INVALID_TO).encode()),
    ]
    with running(Receiver(script)) as twilio:
        settings = make_settings(
            clean_database,
            sms_provider="twilio",
            twilio_base_url=twilio.url,
            twilio_account_sid=ACCOUNT,
            twilio_auth_token="token-" + "t" * 26,
            twilio_from="+15005550006",
        )
        await emit_relayed(db, tenant, "transfer.posted", transfer_payload(good))
        await messages_dispatch(db, settings=settings, keyring=await keyring_for(db, settings))
        await emit_relayed(db, tenant, "transfer.posted", transfer_payload(bad))
        await messages_dispatch(db, settings=settings, keyring=await keyring_for(db, settings))
    first = twilio.requests[0]
    assert first.path == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert first.headers["content-type"] == "application/x-www-form-urlencoded"
    user, _, password = (
        base64.b64decode(first.headers["authorization"].removeprefix("Basic "))
        .decode()
        .partition(":")
    )
    assert (user, password) == (ACCOUNT, "token-" + "t" * 26)
    form = parse_qs(first.body.decode())
    assert form == {
        "To": ["+33612345678"],
        "From": ["+15005550006"],
        "Body": ["fiscus: transfer posted, credit 12.50 EUR."],
    }
    keyring = await keyring_for(db)
    async with db.uow() as uow:
        rows = {
            m.user_id: m
            for m in (await uow.session.execute(select(Message))).scalars()
            if m.channel == "sms"
        }
    assert rows[good].status == "sent" and rows[good].provider_id == SID
    failed = message_open(keyring, rows[bad])
    assert failed.status == "failed" and "21211" in (failed.last_error or "")
    # The provider's refusal quotes the number: stored sealed, like the number itself.
    assert failed.address == "+000" and b"+000" not in (rows[bad].last_error_sealed or b"")
    assert len(twilio.requests) == 2, "a permanent refusal is not retried"
