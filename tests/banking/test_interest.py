"""Interest on accounts against the real database: a leap year of daily accruals and
monthly postings with withholding, checked against figures computed here; a rate change
mid-period; accruing or posting a day twice does nothing; the account and APY views; who
may see them."""

from __future__ import annotations

import calendar
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import httpx
from sqlalchemy import text

from fiscus.banking.interest.accrual import interest_accrue, interest_post
from fiscus.core import clock
from fiscus.core.context import Context
from fiscus.core.db import Database
from fiscus.ledger import queries as ledger_queries
from tests.banking.factories import account, customer, link, ok, product
from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]


def _half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


async def _business_date(client: httpx.AsyncClient, staff: Principal, day: date) -> None:
    ok(
        await client.post(
            "/v1/banking/business-date",
            json={"business_date": day.isoformat()},
            headers=staff.headers,
        )
    )


async def savings(
    client: httpx.AsyncClient,
    staff: Principal,
    *,
    rates: list[dict[str, Any]],
    interest: dict[str, Any] | None = None,
    fees: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A savings product with interest terms (defaults), the given rates and fees."""
    made = await product(client, staff, name="Savings", type="savings")
    terms: dict[str, Any] = {"interest": interest or {}}
    if fees is not None:
        terms["fees"] = fees
    ok(await client.put(f"/v1/products/{made['id']}/terms", json=terms, headers=staff.headers))
    for rate in rates:
        ok(
            await client.post(
                f"/v1/products/{made['id']}/interest-rates", json=rate, headers=staff.headers
            ),
            201,
        )
    return made


async def _balance(db: Database, tenant_id: Any, ledger_account_id: Any) -> int:
    ctx = Context.system(tenant_id, permissions=frozenset())
    read = await ledger_queries.balance_get(db=db, ctx=ctx, account_id=ledger_account_id)
    return read.balance


async def _general_ledger(db: Database, tenant_id: Any, purpose: str) -> int:
    async with db.uow() as uow:
        found = (
            await uow.session.execute(
                text(
                    "SELECT ledger_account_id FROM banking_ledger_accounts"
                    " WHERE tenant_id = :t AND purpose = :p AND currency = 'EUR'"
                ),
                {"t": tenant_id, "p": purpose},
            )
        ).scalar_one()
    return await _balance(db, tenant_id, found)


async def _close_day(db: Database, staff: Principal, day: date) -> tuple[int, int]:
    accrued = await interest_accrue(db, tenant_id=staff.tenant_id, day=day, cutoff=clock.now())
    ctx = Context.system(staff.tenant_id, permissions=frozenset())
    posted, _ = await interest_post(db, ctx, day=day)
    return accrued, posted


async def _count(db: Database, sql: str, **params: Any) -> int:
    async with db.uow() as uow:
        return int((await uow.session.execute(text(sql), params)).scalar_one())


async def test_a_leap_year_of_accruals_posts_monthly_with_withholding_to_the_minor_unit(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    staff = await make_principal(role="owner")
    await _business_date(client, staff, date(2028, 1, 1))
    terms = {"day_count": "ACT/365F", "compounding": "monthly", "posting": "monthly",
             "withholding_tax_rate": "0.25"}  # fmt: skip
    made = await savings(
        client, staff, interest=terms, rates=[{"effective_from": "2028-01-01", "rate": "0.035"}]
    )
    holder = await customer(client, staff)
    saver = await account(
        client, staff, customer_id=holder["id"], product_id=made["id"], deposit=1_000_000
    )
    day = date(2028, 1, 1)
    while day.year == 2028:
        assert await _close_day(db, staff, day) == (1, int(day == _month_end(day)))
        day += timedelta(days=1)
    # Independently: each month earns balance * 3.5 % * days / 365, posted half-even with
    # the residue carried; 25 % of the gross withheld (half-even); the net compounds.
    balance, residue, gross_total, tax_total = 1_000_000, Fraction(0), 0, 0
    for month in range(1, 13):
        days = calendar.monthrange(2028, month)[1]
        exact = Fraction(balance) * Fraction(35, 1000) * Fraction(days, 365) + residue
        gross = _half_even(exact)
        residue = exact - gross
        tax = _half_even(Fraction(gross, 4))
        balance += gross - tax
        gross_total, tax_total = gross_total + gross, tax_total + tax
    assert await _balance(db, staff.tenant_id, saver["ledger_account_id"]) == balance
    assert await _general_ledger(db, staff.tenant_id, "tax_payable") == tax_total
    assert await _general_ledger(db, staff.tenant_id, "interest_expense") == gross_total
    assert await _count(
        db, "SELECT count(*) FROM banking_interest_postings WHERE account_id = :a",
        a=saver["id"],
    ) == 12  # fmt: skip
    # One ledger transfer per posting: expense, tax payable, account.
    assert (
        await _count(
            db,
            "SELECT count(*) FROM ledger_transfers WHERE tenant_id = :t"
            " AND metadata->>'kind' = 'interest'",
            t=staff.tenant_id,
        )
        == 12
    )
    got = ok(await client.get(f"/v1/accounts/{saver['id']}/interest", headers=staff.headers))
    assert got["accrued"] == 0 and got["last_posting"]["period_end"] == "2028-12-31"
    assert len(got["projection"]) == 12


def _month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


async def test_accruing_or_posting_a_day_again_does_nothing(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    staff = await make_principal(role="owner")
    await _business_date(client, staff, date(2027, 1, 30))
    made = await savings(client, staff, rates=[{"effective_from": "2027-01-30", "rate": "0.05"}])
    holder = await customer(client, staff)
    saver = await account(
        client, staff, customer_id=holder["id"], product_id=made["id"], deposit=365_000
    )
    for day in (date(2027, 1, 30), date(2027, 1, 31)):
        assert await _close_day(db, staff, day) == (1, int(day.day == 31))
        assert await _close_day(db, staff, day) == (0, 0)
    assert (
        await _count(
            db,
            "SELECT count(*) FROM banking_interest_accruals WHERE account_id = :a",
            a=saver["id"],
        )
        == 2
    )
    # 3,650.00 at 5 % for two days of ACT/365F: 50 cents a day.
    assert await _balance(db, staff.tenant_id, saver["ledger_account_id"]) == 365_100


async def test_a_rate_change_mid_month_applies_from_its_date(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    staff = await make_principal(role="owner")
    await _business_date(client, staff, date(2027, 4, 1))
    made = await savings(
        client,
        staff,
        rates=[
            {"effective_from": "2027-04-01", "rate": "0.03"},
            {"effective_from": "2027-04-16", "rate": "0.04"},
        ],
    )
    holder = await customer(client, staff)
    saver = await account(
        client, staff, customer_id=holder["id"], product_id=made["id"], deposit=730_000
    )
    for offset in range(30):
        await _close_day(db, staff, date(2027, 4, 1) + timedelta(days=offset))
    # 15 days at 3 % and 15 at 4 % on 7,300.00: 730000 * (0.45 + 0.60) / 365 = 21.00.
    assert await _balance(db, staff.tenant_id, saver["ledger_account_id"]) == 732_100
    rates = ok(await client.get(f"/v1/products/{made['id']}/interest-rates", headers=staff.headers))
    assert [r["rate"] for r in rates["data"]] == ["0.03", "0.04"]


async def test_tiered_rates_and_the_apy_of_each_band(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    staff = await make_principal(role="owner")
    await _business_date(client, staff, date(2027, 6, 1))
    tiers = [{"from": 0, "rate": "0.01"}, {"from": 1_000_000, "rate": "0.0365"}]
    made = await savings(client, staff, rates=[{"effective_from": "2027-06-01", "tiers": tiers}])
    holder = await customer(client, staff)
    below = await account(
        client, staff, customer_id=holder["id"], product_id=made["id"], deposit=999_999
    )
    bound = await account(
        client, staff, customer_id=holder["id"], product_id=made["id"], deposit=1_000_000
    )
    await _close_day(db, staff, date(2027, 6, 1))
    rows = dict(await _rows(db, "SELECT account_id::text, rate FROM banking_interest_accruals"))
    assert rows[below["id"]] == Decimal("0.01")
    assert rows[bound["id"]] == Decimal("0.0365")
    apy = ok(await client.get(f"/v1/products/{made['id']}/apy", headers=staff.headers))
    assert apy["compounding"] == "monthly" and apy["as_of"] == "2027-06-01"
    assert [b["from"] for b in apy["bands"]] == [0, 1_000_000]
    expected = (1 + Fraction(365, 10000) / 12) ** 12 - 1
    assert abs(Fraction(apy["bands"][1]["apy"]) - expected) < Fraction(1, 10**8)
    # A day is YYYY-MM-DD: a datetime (which pydantic would take as a date) is refused.
    for as_of in ("2027-06-01T00:00:00+01:00", "2027-6-1"):
        refused = await client.get(
            f"/v1/products/{made['id']}/apy", params={"as_of": as_of}, headers=staff.headers
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["type"].endswith("/validation-error"), refused.text
    dated = ok(
        await client.get(
            f"/v1/products/{made['id']}/apy", params={"as_of": "2027-06-01"}, headers=staff.headers
        )
    )
    assert dated["as_of"] == "2027-06-01"


async def _rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    async with db.uow() as uow:
        return [tuple(row) for row in (await uow.session.execute(text(sql))).all()]


async def test_rates_and_terms_are_validated(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="owner")
    made = await product(client, staff, name="Savings", type="savings")
    path = f"/v1/products/{made['id']}"
    today = ok(await client.get("/v1/banking/business-date", headers=staff.headers))
    first = {"effective_from": today["business_date"], "rate": "0.02"}
    refused = await client.post(f"{path}/interest-rates", json=first, headers=staff.headers)
    assert refused.status_code == 422 and refused.json()["type"].endswith("/interest-terms-missing")
    bad_terms = {"interest": {"compounding": "annually", "posting": "monthly"}}
    assert (
        await client.put(f"{path}/terms", json=bad_terms, headers=staff.headers)
    ).status_code == 400
    ok(await client.put(f"{path}/terms", json={"interest": {}}, headers=staff.headers))
    for body in (
        {**first, "tiers": [{"from": 0, "rate": "0.01"}]},
        {"effective_from": first["effective_from"], "tiers": [{"from": 5, "rate": "0.01"}]},
        {**first, "rate": "1.5"},
        {**first, "rate": "-0.01"},
    ):
        got = await client.post(f"{path}/interest-rates", json=body, headers=staff.headers)
        assert got.status_code == 400, body
    ok(await client.post(f"{path}/interest-rates", json=first, headers=staff.headers), 201)
    again = await client.post(f"{path}/interest-rates", json=first, headers=staff.headers)
    assert again.status_code == 409 and again.json()["type"].endswith("/interest-rate-exists")
    past = {**first, "effective_from": "2020-01-01"}
    got = await client.post(f"{path}/interest-rates", json=past, headers=staff.headers)
    assert got.status_code == 422 and got.json()["type"].endswith("/interest-rate-in-past")
    assert (
        ok(await client.get(f"{path}/terms", headers=staff.headers))["interest"]["day_count"]
        == "ACT/365F"
    )


async def test_account_interest_is_seen_only_by_staff_and_the_accounts_own_portal_users(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    staff = await make_principal(role="owner")
    made = await savings(
        client, staff, rates=[{"effective_from": clock.now().date().isoformat(), "rate": "0.02"}]
    )
    mine, theirs = await customer(client, staff), await customer(client, staff)
    saver = await account(
        client, staff, customer_id=mine["id"], product_id=made["id"], deposit=100_000
    )
    portal = await make_principal(role="customer", tenant_id=staff.tenant_id)
    other = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await link(client, staff, mine["id"], portal, "owner")
    await link(client, staff, theirs["id"], other, "owner")
    await interest_accrue(db, tenant_id=staff.tenant_id, day=clock.now().date(), cutoff=clock.now())
    path = f"/v1/accounts/{saver['id']}/interest"
    got = ok(await client.get(path, headers=portal.headers))
    # 1,000.00 at 2 % for one day: 2000 / 365 = 5.479452... cents.
    assert abs(Fraction(got["accrued_exact"]) - Fraction(2000, 365)) < Fraction(1, 10**6)
    assert got["accrued"] == 5 and got["last_posting"] is None
    assert sum(m["interest"] for m in got["projection"]) == got["projected_total"] > 0
    assert (await client.get(path, headers=other.headers)).status_code == 404
    analyst = await make_principal(role="analyst", tenant_id=staff.tenant_id)
    assert (await client.get(path, headers=analyst.headers)).status_code == 200
    denied = await client.put(f"/v1/products/{made['id']}/terms", json={}, headers=analyst.headers)
    assert denied.status_code == 403


async def test_overdraft_interest_is_charged_to_the_account_and_credited_to_interest_income(
    client: httpx.AsyncClient, make_principal: MakePrincipal, db: Database
) -> None:
    staff = await make_principal(role="owner")
    await _business_date(client, staff, date(2027, 1, 30))
    made = await product(client, staff, name="Current", overdraft_limit=100_000)
    ok(await client.put(f"/v1/products/{made['id']}/terms", json={"interest": {}},
                        headers=staff.headers))  # fmt: skip
    rate = {"effective_from": "2027-01-30", "rate": "0", "overdraft_rate": "0.1825"}
    ok(
        await client.post(
            f"/v1/products/{made['id']}/interest-rates", json=rate, headers=staff.headers
        ),
        201,
    )
    holder = await customer(client, staff)
    debtor, other = [
        await account(client, staff, customer_id=holder["id"], product_id=made["id"])
        for _ in range(2)
    ]
    ok(
        await client.post(
            "/v1/transfers",
            json={"from_account_id": debtor["id"], "to_account_id": other["id"],
                  "amount": 73_000, "currency": "EUR"},
            headers={**staff.headers, "Idempotency-Key": "overdraw"},
        ),
        201,
    )  # fmt: skip
    for day in (date(2027, 1, 30), date(2027, 1, 31)):
        await _close_day(db, staff, day)
    # 730.00 overdrawn at 18.25 % a year: 36.5 cents a day, 73 cents over two days.
    assert await _balance(db, staff.tenant_id, debtor["ledger_account_id"]) == -73_073
    assert await _balance(db, staff.tenant_id, other["ledger_account_id"]) == 73_000
    assert await _general_ledger(db, staff.tenant_id, "interest_income") == 73
    got = ok(await client.get(f"/v1/accounts/{debtor['id']}/interest", headers=staff.headers))
    assert got["last_posting"]["overdraft_amount"] == 73
    assert got["last_posting"]["credit_gross"] == 0
