"""`api._created` builds a new posting's 201 body from the request (no extra read); it must
equal what the ledger stored, as `GET /v1/ledger/transfers/{id}` returns it. Hypothesis
draws the transfers (legs, currencies with a rate, pending with a timeout, effective_at,
description, metadata); each is posted and the two bodies compared."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fiscus.core import clock
from fiscus.core.db import Database
from fiscus.ledger import queries, service
from fiscus.ledger.api import _created
from fiscus.ledger.schemas import TransferCreate
from tests.ledger.factories import ledger_context, open_account

DATABASE_URL: list[str] = []
STORABLE = st.characters(codec="utf-8", exclude_characters="\x00")


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    eur = draw(st.integers(1, 10_000))
    body: dict[str, Any] = {
        "currency": "EUR",
        "legs": [("eur_a", "debit", eur, None), ("eur_b", "credit", eur, None)],
        "pending": draw(st.booleans()),
        # Any text PostgreSQL stores: a NUL it refuses (400 data-invalid at the HTTP edge,
        # tests/core/test_errors.py), so no transfer is created to compare.
        "description": draw(st.one_of(st.none(), st.text(STORABLE, max_size=20))),
        "metadata": draw(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9))),
    }
    if draw(st.booleans()):
        usd = draw(st.integers(1, 10_000))
        body["legs"] += [("usd_a", "debit", usd, "USD"), ("usd_b", "credit", usd, "USD")]
        rate = draw(st.decimals(min_value="0.000001", max_value="999", places=6))
        body["fx"] = {"rate": str(rate), "from_currency": "EUR", "to_currency": "USD"}
    if body["pending"] and draw(st.booleans()):
        body["timeout_s"] = draw(st.integers(1, 86_400))
    if draw(st.booleans()):
        body["effective_at_minutes_ago"] = draw(st.integers(0, 60 * 24 * 30))
    return body


async def _compare(db: Database, drawn: dict[str, Any]) -> None:
    ctx = ledger_context()
    accounts = {
        name: (await open_account(db, ctx, currency=name[:3].upper())).id
        for name in ("eur_a", "eur_b", "usd_a", "usd_b")
    }
    fields = dict(drawn)
    minutes = fields.pop("effective_at_minutes_ago", None)
    if minutes is not None:
        fields["effective_at"] = clock.now() - timedelta(minutes=minutes)
    fields["legs"] = [
        {"account_id": accounts[name], "direction": side, "amount": amount, "currency": currency}
        for name, side, amount, currency in fields["legs"]
    ]
    request = TransferCreate.model_validate(fields)
    outcome = await service.transfer_create(db=db, ctx=ctx, request=request)
    stored = await queries.transfer_get(db=db, ctx=ctx, transfer_id=outcome.transfer_id)
    created = _created(request, outcome)
    assert created.model_dump(mode="json") == stored.model_dump(mode="json")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=requests())
def _check(drawn: dict[str, Any]) -> None:
    loop = asyncio.new_event_loop()
    db = Database(DATABASE_URL[0], pool_size=2, max_overflow=2)
    try:
        loop.run_until_complete(_compare(db, drawn))
    finally:
        loop.run_until_complete(db.dispose())
        loop.close()


def test_the_created_response_equals_the_stored_transfer(clean_database: str) -> None:
    DATABASE_URL[:] = [clean_database]
    _check()
