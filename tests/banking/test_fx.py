"""FX: rates entered by staff or loaded from a provider, quotes, and conversion legs that the
ledger posts with the spread in FX income.

The provider is the ECB's daily reference-rate document. We cannot reach it from tests: a
recorded document (`data/ecb-eurofxref-daily.xml`, the real format of 30 Nov 2026) is
replayed by a local HTTP server.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner

from fiscus.banking.fx import queries as fx_queries
from fiscus.banking.fx import service as fx_service
from fiscus.banking.fx.convert import Conversion, ConversionAccounts, conversion, conversion_legs
from fiscus.banking.fx.errors import ProviderUnavailable, RateUnavailable
from fiscus.cli import app as cli_app
from fiscus.core import clock
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import Event
from fiscus.events.catalogue import FxRateSetPayload
from fiscus.integrations.fx_rates import ProviderDocumentError, ecb_parse
from fiscus.ledger import queries as ledger_queries
from fiscus.ledger import service as ledger_service
from fiscus.ledger.schemas import TransferCreate
from tests.factories import Principal
from tests.ledger.factories import ledger_context, open_account

RECORDED = (Path(__file__).parent / "data" / "ecb-eurofxref-daily.xml").read_bytes()


# --- arithmetic -----------------------------------------------------------------------


def _hundred_eur_in_usd() -> Conversion:
    return conversion(
        amount=10_000,
        mid=Decimal("1.0842"),
        spread=Decimal("0.005"),
        from_currency="EUR",
        to_currency="USD",
    )


def test_conversion_figures_spread_and_half_even_rounding() -> None:
    figures = _hundred_eur_in_usd()
    # 100.00 EUR at mid 1.0842 = 108.42 USD booked; the customer's rate is
    # 1.0842 x 0.995 = 1.078779, so 107.8779 -> 107.88 (half-even); 0.54 is FX income.
    assert figures.rate == Decimal("1.078779")
    assert (figures.booked, figures.delivered, figures.income) == (10_842, 10_788, 54)


def test_conversion_between_exponents() -> None:
    # 1,000 JPY (exponent 0) to BHD (exponent 3) at 0.0025: 2.500 BHD = 2500 minor units.
    figures = conversion(
        amount=1_000,
        mid=Decimal("0.0025"),
        spread=Decimal(0),
        from_currency="JPY",
        to_currency="BHD",
    )
    assert (figures.booked, figures.delivered, figures.income) == (2_500, 2_500, 0)
    # 12.34 EUR to JPY at 158.42: 1954.9028 -> 1955 JPY.
    eur_jpy = conversion(
        amount=1_234,
        mid=Decimal("158.42"),
        spread=Decimal(0),
        from_currency="EUR",
        to_currency="JPY",
    )
    assert eur_jpy.delivered == 1_955


@given(
    amount=st.integers(min_value=1, max_value=10**12),
    mid=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("20000"), places=6),
    spread=st.decimals(min_value=Decimal(0), max_value=Decimal("0.19"), places=4),
)
def test_conversion_never_gives_more_than_the_desk_books(
    amount: int, mid: Decimal, spread: Decimal
) -> None:
    figures = conversion(
        amount=amount, mid=mid, spread=spread, from_currency="EUR", to_currency="USD"
    )
    assert 0 <= figures.delivered <= figures.booked
    # Income is the spread of the booked amount give or take one minor unit of rounding.
    assert abs(Decimal(figures.income) - Decimal(figures.booked) * spread) <= 1 + spread


async def test_conversion_legs_post_balanced_per_currency_with_income(db: Database) -> None:
    ctx = ledger_context()
    source = await open_account(db, ctx)
    position_eur = await open_account(db, ctx, normal_side="debit")
    position_usd = await open_account(db, ctx, currency="USD", normal_side="debit")
    target = await open_account(db, ctx, currency="USD")
    income = await open_account(db, ctx, currency="USD")
    figures = _hundred_eur_in_usd()
    legs, fx = conversion_legs(
        figures,
        ConversionAccounts(
            source=source.id,
            target=target.id,
            position_from=position_eur.id,
            position_to=position_usd.id,
            income=income.id,
        ),
    )
    outcome = await ledger_service.transfer_create(
        db=db, ctx=ctx, request=TransferCreate(legs=legs, currency="EUR", fx=fx)
    )
    stored = await ledger_queries.transfer_get(db=db, ctx=ctx, transfer_id=outcome.transfer_id)
    assert stored.fx == {"rate": "1.078779", "from_currency": "EUR", "to_currency": "USD"}

    async def balance(account_id: object) -> int:
        read = await ledger_queries.balance_get(db=db, ctx=ctx, account_id=account_id)
        return read.balance

    assert await balance(target.id) == 10_788
    assert await balance(income.id) == 54
    assert await balance(position_usd.id) == 10_842
    assert await balance(source.id) == -10_000
    tb = await ledger_queries.trial_balance(db=db, ctx=ctx)
    assert tb.balanced


# --- the provider ---------------------------------------------------------------------


def test_recorded_ecb_document_parses() -> None:
    rates = ecb_parse(RECORDED)
    by_quote = {r.quote: r for r in rates}
    assert by_quote["USD"].mid == Decimal("1.0563")
    assert by_quote["JPY"].base == "EUR"
    assert by_quote["USD"].effective_at.isoformat() == "2026-11-30T15:00:00+00:00"
    assert len(rates) == 30


@pytest.mark.parametrize(
    "document",
    [
        b"not xml at all",
        b"<Envelope/>",
        RECORDED.replace(b"rate='1.0563'", b"rate='one'"),
        RECORDED.replace(b"rate='1.0563'", b"rate='-1'"),
        RECORDED.replace(b"time='2026-11-30'", b"time='yesterday'"),
        # Entity expansion (a "billion laughs" document) is refused, not expanded.
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
    ],
)
def test_unusable_documents_are_refused(document: bytes) -> None:
    with pytest.raises(ProviderDocumentError):
        ecb_parse(document)


class _Recorded(BaseHTTPRequestHandler):
    body = RECORDED
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", "text/xml")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/stats/eurofxref/eurofxref-daily.xml"
    finally:
        server.shutdown()
        server.server_close()


async def test_provider_load_is_idempotent_and_feeds_quotes(
    app: object,
    client: httpx.AsyncClient,
    make_principal: object,
    db: Database,
    settings: Settings,
    provider: str,
) -> None:
    owner: Principal = await make_principal(role="owner")  # type: ignore[operator]
    stored = await fx_service.provider_load(db, settings=settings, url=provider)
    assert stored >= 30
    again = await fx_service.provider_load(db, settings=settings, url=provider)
    assert again == 0
    quoted = await client.get(
        "/v1/fx/quote",
        params={"sell_currency": "USD", "buy_currency": "GBP", "amount": 100_00},
        headers=owner.headers,
    )
    assert quoted.status_code == 200, quoted.text
    body = quoted.json()
    # USD -> GBP through EUR: (1 / 1.0563) x 0.83248 = 0.788109...; spread 0.5 %.
    assert Decimal(body["mid_rate"]).quantize(Decimal("0.000001")) == Decimal("0.788109")
    assert body["spread"] == "0.005"
    assert len(body["rate_ids"]) == 2
    assert body["buy"] == {"amount": 7_842, "currency": "GBP"}


async def test_an_unreachable_or_broken_provider_stores_nothing(
    db: Database, settings: Settings, provider: str
) -> None:
    with pytest.raises(ProviderUnavailable):
        await fx_service.provider_load(db, settings=settings, url="http://127.0.0.1:9/none")
    _Recorded.body = b"<html>maintenance</html>"
    try:
        with pytest.raises(ProviderUnavailable):
            await fx_service.provider_load(db, settings=settings, url=provider)
    finally:
        _Recorded.body = RECORDED


def test_fx_cli_has_help() -> None:
    result = CliRunner().invoke(cli_app, ["fx", "load", "--help"])
    assert result.exit_code == 0
    assert "ECB" in result.output


# --- the API ----------------------------------------------------------------------------


async def _rate(client: httpx.AsyncClient, who: Principal, **body: object) -> httpx.Response:
    return await client.post("/v1/fx/rates", json=body, headers=who.headers)


async def test_staff_enter_rates_and_quotes_use_the_newest_in_force(
    client: httpx.AsyncClient, make_principal: object, db: Database
) -> None:
    owner: Principal = await make_principal(role="owner")  # type: ignore[operator]
    created = await _rate(client, owner, base="EUR", quote="USD", rate="1.0842", spread="0.005")
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "manual"
    # A rate dated tomorrow is stored but not yet in force.
    tomorrow = (clock.now() + timedelta(days=1)).isoformat()
    later = await _rate(client, owner, base="EUR", quote="USD", rate="2", effective_at=tomorrow)
    assert later.status_code == 201, later.text
    quoted = await client.get(
        "/v1/fx/quote",
        params={"sell_currency": "EUR", "buy_currency": "USD", "amount": 10_000},
        headers=owner.headers,
    )
    assert quoted.status_code == 200, quoted.text
    assert quoted.json()["buy"] == {"amount": 10_788, "currency": "USD"}
    assert quoted.json()["fee"] == {"amount": 54, "currency": "USD"}
    # The inverse direction comes from the same rate.
    inverse = await client.get(
        "/v1/fx/quote",
        params={"sell_currency": "USD", "buy_currency": "EUR", "amount": 10_842},
        headers=owner.headers,
    )
    assert inverse.status_code == 200
    assert inverse.json()["mid_rate"].startswith("0.92233")
    listed = await client.get("/v1/fx/rates", params={"base": "EUR"}, headers=owner.headers)
    assert [r["rate"] for r in listed.json()["data"]] == ["2", "1.0842"]
    # Audited.
    async with db.uow(tenant_id=owner.tenant_id) as uow:
        in_force = await fx_queries.rate_in_force(
            uow,
            tenant_id=owner.tenant_id,
            base="EUR",
            quote="USD",
            at=clock.now() + timedelta(days=2),
        )
    assert in_force.mid == Decimal(2)
    audit = await client.get(
        "/v1/audit-events", params={"action": "fx_rate.set"}, headers=owner.headers
    )
    assert audit.status_code == 200
    assert len(audit.json()["data"]) == 2
    # And announced, with the payload the event catalogue documents.
    async with db.uow(tenant_id=owner.tenant_id) as uow:
        payloads = (
            await uow.session.execute(
                select(Event.payload).where(Event.type == "banking.fx_rate.set")
            )
        ).scalars()
        for payload in payloads:
            FxRateSetPayload.model_validate(payload)
            assert payload["base"] == "EUR"


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ({"base": "EUR", "quote": "EUR", "rate": "1"}, "fx-same-currency"),
        ({"base": "EUR", "quote": "USD", "rate": "1.2.3"}, "validation-error"),
        ({"base": "EUR", "quote": "USD", "rate": 1.08}, "validation-error"),
        ({"base": "EUR", "quote": "USD", "rate": "0"}, "validation-error"),
        ({"base": "EUR", "quote": "USD", "rate": "1", "spread": "0.5"}, "validation-error"),
        ({"base": "EUR", "quote": "ZZZ", "rate": "1"}, "validation-error"),
        (
            {"base": "EUR", "quote": "USD", "rate": "1", "effective_at": "2026-01-01T00:00:00"},
            "timestamp-invalid",
        ),
        (
            {"base": "EUR", "quote": "USD", "rate": "1", "effective_at": "2099-01-01T00:00:00Z"},
            "validation-error",
        ),
    ],
)
async def test_bad_rates_are_refused_and_store_nothing(
    client: httpx.AsyncClient, make_principal: object, body: dict[str, object], slug: str
) -> None:
    owner: Principal = await make_principal(role="owner")  # type: ignore[operator]
    response = await client.post("/v1/fx/rates", json=body, headers=owner.headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/" + slug)
    listed = await client.get("/v1/fx/rates", headers=owner.headers)
    assert listed.json()["data"] == []


async def test_roles_and_tenants(client: httpx.AsyncClient, make_principal: object) -> None:
    owner: Principal = await make_principal(role="owner")  # type: ignore[operator]
    analyst: Principal = await make_principal(role="analyst", tenant_id=owner.tenant_id)  # type: ignore[operator]
    customer: Principal = await make_principal(role="customer", tenant_id=owner.tenant_id)  # type: ignore[operator]
    stranger: Principal = await make_principal(role="owner")  # type: ignore[operator]
    assert (await _rate(client, owner, base="EUR", quote="USD", rate="1.08")).status_code == 201
    for who in (analyst, customer):
        refused = await _rate(client, who, base="EUR", quote="USD", rate="9")
        assert refused.status_code == 403
    params = {"sell_currency": "EUR", "buy_currency": "USD", "amount": 100}
    for who in (analyst, customer):
        assert (
            await client.get("/v1/fx/quote", params=params, headers=who.headers)
        ).status_code == 200
    # Another tenant sees none of this tenant's rates and cannot convert with them.
    theirs = await client.get("/v1/fx/quote", params=params, headers=stranger.headers)
    assert theirs.status_code == 422
    assert theirs.json()["type"].endswith("/fx-rate-unavailable")
    assert (await client.get("/v1/fx/rates", headers=stranger.headers)).json()["data"] == []


async def test_no_rate_means_no_quote(db: Database) -> None:
    ctx = ledger_context()
    async with db.uow(tenant_id=ctx.tenant_id) as uow:
        with pytest.raises(RateUnavailable):
            await fx_queries.rate_in_force(
                uow, tenant_id=ctx.tenant_id, base="EUR", quote="CHF", at=clock.now()
            )
