"""`fiscus demo`: a living bank to look at after `make run`.

Seeds the tenant `demo-bank` through the same service functions the API calls (so every
rule, ledger posting, event and audit record is the real one): staff and portal logins,
deposit products in EUR and USD, 50 customers with accounts (two of them joint, one
needing both holders' signatures and holding a pending approval), exchange rates, alerts,
spending rules and two budgets, and about ten weeks of categorised history (salaries,
card-like spending between customers, savings, conversions). History is made by running
the use cases under a clock set to each past day, so balances, statements and the audit
trail read like a bank that has been open.

Running it again duplicates nothing: customers are found by their email's blind index,
accounts per customer, and every movement carries an idempotency key derived from its
day and number, so a replay returns the first transfer. Passwords and the TOTP secret are
derived from the root secret (HMAC under the key ring's index key): the same on every
run, and unguessable without `FISCUS_SECRET_KEY`.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Literal

from fiscus.access.policy import CUSTOMER_PORTAL
from fiscus.access.queries import tenant_by_slug
from fiscus.access.service import tenant_provision
from fiscus.banking import queries as banking_queries
from fiscus.banking import service as banking
from fiscus.banking.alerts import service as alerts
from fiscus.banking.fees.schemas import FeeSchedule
from fiscus.banking.fx import queries as fx_queries
from fiscus.banking.fx import service as fx_service
from fiscus.banking.fx.conversions import conversion_create
from fiscus.banking.insights import service as insights
from fiscus.banking.insights.schemas import BudgetCreate, RuleCreate
from fiscus.banking.interest import service as interest
from fiscus.banking.interest.schemas import InterestTerms, ProductTerms, RateCreate
from fiscus.banking.joint.schemas import HolderCreate
from fiscus.banking.schemas import (
    AccountCreate,
    CustomerCreate,
    DepositCreate,
    ProductCreate,
    TransferCreate,
)
from fiscus.core import clock
from fiscus.core.context import Context
from fiscus.core.db import Database
from fiscus.core.errors import DomainError
from fiscus.core.keyring import KeyRing
from fiscus.identity.service import totp_provision, user_bootstrap, user_find

SLUG = "demo-bank"
NAME = "Demo Bank"
DOMAIN = "demo.bank"
CUSTOMERS = 50
HISTORY_DAYS = 75  # the event feed keeps 90 days by default: all of it stays visible
SYSTEM = frozenset(
    {
        "customers:read",
        "customers:manage",
        "bank_products:read",
        "bank_products:manage",
        "bank_accounts:read",
        "bank_accounts:open",
        "bank_accounts:manage",
        "bank_deposits:create",
        "bank_transfers:read",
        "bank_transfers:create",
        "bank_alerts:manage",
        "bank_spending_rules:manage",
        "bank_budgets:manage",
        "fx_rates:read",
        "fx_rates:manage",
    }
)
FIRST = (
    "Ada Alan Grace Edsger Barbara Donald Frances Ken Margaret Dennis Radia Niklaus Hedy "
    "Tim Karen John Sophie Linus Anita Guido Katherine Bjarne Shafi Leslie Ivan"
).split()
LAST = (
    "Lovelace Turing Hopper Dijkstra Liskov Knuth Allen Thompson Hamilton Ritchie Perlman "
    "Wirth Lamarr Berners-Lee Jones Backus Wilson Torvalds Borg Rossum Johnson Stroustrup "
    "Goldwasser Lamport Sutherland"
).split()
CITIES = (("Berlin", "10115", "DE"), ("Hamburg", "20095", "DE"), ("Munich", "80331", "DE"),
          ("Vienna", "1010", "AT"), ("Amsterdam", "1012", "NL"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Login:
    """A login the demo prints."""

    role: str
    email: str
    password: str
    totp_secret: str | None = None
    note: str = ""


@dataclass
class Seeded:
    """What the run made or found."""

    tenant_slug: str = SLUG
    logins: list[Login] = field(default_factory=list)
    customers: int = 0
    accounts: int = 0
    movements: int = 0
    refused: int = 0


@dataclass(frozen=True, slots=True)
class _Holder:
    customer_id: uuid.UUID
    current: uuid.UUID
    savings: uuid.UUID | None
    dollars: uuid.UUID | None
    salary: int


def _secret(keyring: KeyRing, purpose: str, subject: str) -> bytes:
    return keyring.keyed_hash(subject.encode(), purpose=f"demo:{purpose}")


def demo_password(keyring: KeyRing, email: str) -> str:
    """The demo password of `email`: 16 URL-safe characters derived from the root secret."""
    return base64.urlsafe_b64encode(_secret(keyring, "password", email)).decode()[:16]


def demo_totp_secret(keyring: KeyRing, email: str) -> str:
    """The demo TOTP secret of `email` (base32, 160 bits)."""
    return base64.b32encode(_secret(keyring, "totp", email)[:20]).decode()


async def _user(
    db: Database, keyring: KeyRing, *, email: str, role: str, name: str
) -> tuple[uuid.UUID, str]:
    password = demo_password(keyring, email)
    found = await user_find(db, keyring, tenant_slug=SLUG, email=email)
    if found is None:
        found = await user_bootstrap(
            db,
            keyring,
            tenant_slug=SLUG,
            email=email,
            password=password,
            role=role,
            display_name=name,
        )
    return found, password


async def _product(db: Database, ctx: Context, request: ProductCreate) -> uuid.UUID:
    products, _ = await banking_queries.product_list(db, ctx, cursor=None, limit=200)
    for product in products:
        if product.name == request.name:
            return product.id
    return (await banking.product_create(db, ctx, request=request)).id


# The savings product earns 3.5 % a year (ACT/365F, compounded and posted monthly, 25 %
# withheld) and costs 2.00 a month below a 1,000.00 balance, 1.00 a month when dormant.
SAVINGS_TERMS = ProductTerms(
    interest=InterestTerms(withholding_tax_rate="0.25"),
    fees=FeeSchedule(
        monthly_maintenance=200, maintenance_waived_from=100_000, dormancy_monthly=100
    ),
)


async def _savings_terms(db: Database, ctx: Context, product_id: uuid.UUID, start: date) -> None:
    """Interest and fees on the savings product, set once (the demo stays idempotent)."""
    if (await interest.product_terms_get(db, ctx, product_id=product_id)).interest is None:
        await interest.product_terms_set(db, ctx, product_id=product_id, terms=SAVINGS_TERMS)
    if not await interest.interest_rate_list(db, ctx, product_id=product_id):
        await interest.interest_rate_add(
            db,
            ctx,
            product_id=product_id,
            request=RateCreate(effective_from=start, rate="0.035", overdraft_rate="0"),
        )


def _person(rng: random.Random, index: int) -> tuple[str, str]:
    first, last = FIRST[index % len(FIRST)], LAST[(index * 7) % len(LAST)]
    return f"{first} {last}", f"{first}.{last}.{index}@customers.{DOMAIN}".lower()


async def _customer(
    db: Database, ctx: Context, keyring: KeyRing, rng: random.Random, index: int
) -> tuple[uuid.UUID, bool]:
    name, email = _person(rng, index)
    found, _ = await banking_queries.customer_list(
        db, ctx, keyring=keyring, email=email, phone=None, tax_id=None, cursor=None, limit=1
    )
    if found:
        return found[0].id, False
    city, postal, country = CITIES[index % len(CITIES)]
    business = index % 10 == 9
    request = CustomerCreate.model_validate(
        {
            "kind": "business" if business else "individual",
            "name": f"{name.split()[1]} Consulting GmbH" if business else name,
            "email": email,
            "phone": f"+4930{5550000 + index:07d}",
            **(
                {"registration_number": f"HRB {10000 + index}"}
                if business
                else {"birth_date": date(1960 + index % 40, 1 + index % 12, 1 + index % 28)}
            ),
            "tax_id": f"DE{100000000 + index}",
            "tax_residence": country,
            "address": {
                "line1": f"{rng.randint(1, 120)} {LAST[index % len(LAST)]}strasse",
                "city": city,
                "postal_code": postal,
                "country": country,
            },
            "risk_rating": "medium" if index % 11 == 0 else "low",
        }
    )
    made = await banking.customer_create(db, ctx, keyring=keyring, request=request)
    await banking.customer_kyc_review(
        db, ctx, keyring=keyring, customer_id=made.id, status="verified", notes="Demo onboarding"
    )
    return made.id, True


async def _accounts(
    db: Database, ctx: Context, customer_id: uuid.UUID, products: dict[str, uuid.UUID], index: int
) -> dict[str, uuid.UUID]:
    existing, _ = await banking_queries.account_list(
        db, ctx, customer_id=customer_id, status=None, cursor=None, limit=10
    )
    by_product = {a.product_id: a.id for a in existing}
    wanted = (
        ["current"]
        + (["savings"] if index % 3 == 0 else [])
        + (["dollars"] if index % 4 == 0 else [])
    )
    found: dict[str, uuid.UUID] = {}
    for kind in wanted:
        product_id = products[kind]
        if product_id not in by_product:
            opened = await banking.account_open(
                db, ctx, request=AccountCreate(customer_id=customer_id, product_id=product_id)
            )
            by_product[product_id] = opened.id
        found[kind] = by_product[product_id]
    return found


def _key(day: date, kind: str, number: int) -> str:
    return f"demo:{day.isoformat()}:{kind}:{number}"


async def _move(seeded: Seeded, operation: Callable[[], Awaitable[None]]) -> None:
    try:
        await operation()
        seeded.movements += 1
    except DomainError:
        seeded.refused += 1  # short of funds on a given day, as in life


async def _day(
    db: Database, ctx: Context, day: date, holders: list[_Holder], seeded: Seeded, *, first: bool
) -> None:
    rng = random.Random(day.toordinal())  # noqa: S311 (repeatable demo data, not secrets)
    if day.day in (1, 15) or first:
        for n, holder in enumerate(holders):
            amount = holder.salary // 2 if day.day in (1, 15) else holder.salary

            async def pay_salary(h: _Holder = holder, a: int = amount, k: int = n) -> None:
                await banking.deposit_create(
                    db,
                    ctx,
                    account_id=h.current,
                    request=DepositCreate(amount=a, currency="EUR", reference="Salary"),
                    key=_key(day, "salary", k),
                )

            await _move(seeded, pay_salary)
    for n in range(rng.randint(12, 24)):
        payer, payee = rng.sample(holders, 2)
        amount = rng.choice([450, 1290, 2500, 3999, 7450, 12000, 25000])

        async def spend(
            p: _Holder = payer, q: _Holder = payee, a: int = amount, k: int = n
        ) -> None:
            await banking.transfer_create(
                db,
                ctx,
                request=TransferCreate(
                    from_account_id=p.current,
                    to_account_id=q.current,
                    amount=a,
                    currency="EUR",
                    reference=rng.choice(["Dinner", "Rent share", "Books", "Concert", "Invoice"]),
                ),
                key=_key(day, "transfer", k),
            )

        await _move(seeded, spend)
    if day.weekday() == 4:
        for n, holder in enumerate(h for h in holders if h.savings or h.dollars):

            async def put_aside(h: _Holder = holder, k: int = n) -> None:
                if h.savings is not None:
                    await banking.transfer_create(
                        db,
                        ctx,
                        request=TransferCreate(
                            from_account_id=h.current,
                            to_account_id=h.savings,
                            amount=10_000,
                            currency="EUR",
                            reference="Weekly savings",
                        ),
                        key=_key(day, "savings", k),
                    )
                if h.dollars is not None:
                    await conversion_create(
                        db,
                        ctx,
                        from_account_id=h.current,
                        to_account_id=h.dollars,
                        amount=5_000,
                        currency="EUR",
                        key=_key(day, "fx", k),
                    )

            await _move(seeded, put_aside)


# The tenant's categorisation rules: the references the demo's history uses.
RULES: tuple[tuple[str, str, Literal["in", "out", "any"]], ...] = (
    ("Dinner", "eating_out", "out"),
    ("Rent share", "housing", "out"),
    ("Books", "shopping", "out"),
    ("Concert", "entertainment", "out"),
    ("Salary", "income", "in"),
    ("Weekly savings", "savings", "any"),
)


async def _insights(db: Database, ctx: Context, customer_id: uuid.UUID) -> None:
    """A few tenant rules (set before the history, which they categorise) and two budgets
    of the first portal user's customer; once."""
    rules, _ = await insights.rule_list(db, ctx, customer_id=None, cursor=None, limit=1)
    if not rules:
        for text, category, direction in RULES:
            await insights.rule_create(db, ctx, request=RuleCreate(
                category=category, direction=direction, reference_contains=text))  # fmt: skip
    budgets, _ = await insights.budget_list(db, ctx, customer_id=customer_id, cursor=None, limit=1)
    if not budgets:
        for category, amount in (("eating_out", 20_000), ("shopping", 15_000)):
            budget = BudgetCreate(
                customer_id=customer_id, category=category, amount=amount, currency="EUR"
            )
            await insights.budget_create(db, ctx, request=budget)


async def demo_seed(
    db: Database,
    keyring: KeyRing,
    *,
    customers: int = CUSTOMERS,
    days: int = HISTORY_DAYS,
    progress: Callable[[str, int, int], None] = lambda _step, _done, _total: None,
) -> Seeded:
    """Seed (or find) the demo bank; `progress(step, done, total)` reports each step.
    `customers` and `days` are smaller in the tests."""
    assert 2 <= customers <= 1000 and 1 <= days <= HISTORY_DAYS
    seeded = Seeded()
    today = clock.now().date()
    start = today - timedelta(days=days)
    opening = datetime.combine(start, time(8, 0), tzinfo=UTC)
    rng = random.Random(2026)  # noqa: S311 (repeatable demo data, not secrets)
    with clock.frozen_clock(opening) as frozen:
        async with db.uow() as uow:
            tenant = await tenant_by_slug(uow, slug=SLUG)
        tenant_id = (
            tenant.id
            if tenant
            else await tenant_provision(db, slug=SLUG, name=NAME, plan="enterprise")
        )
        ctx = Context.system(tenant_id, permissions=SYSTEM)
        staff = (("owner", "Olivia Owner"), ("operator", "Oscar Operator"),
                 ("analyst", "Anna Analyst"))  # fmt: skip
        for role, name in staff:
            email = f"{role}@{DOMAIN}"
            user_id, password = await _user(db, keyring, email=email, role=role, name=name)
            secret = None
            if role == "owner":
                secret = demo_totp_secret(keyring, email)
                await totp_provision(
                    db, keyring, tenant_id=tenant_id, user_id=user_id, secret=secret
                )
            seeded.logins.append(Login(role, email, password, secret))
        products = {
            "current": await _product(db, ctx, ProductCreate(
                name="Everyday current", type="current", currency="EUR", overdraft_limit=50_000)),
            "savings": await _product(db, ctx, ProductCreate(
                name="Instant savings", type="savings", currency="EUR")),
            "dollars": await _product(db, ctx, ProductCreate(
                name="Dollar current", type="current", currency="USD")),
        }  # fmt: skip
        await _savings_terms(db, ctx, products["savings"], start)
        rates, _ = await fx_queries.rates_list(
            db, ctx, base="EUR", quote=None, cursor=None, limit=1
        )
        if not rates:
            for quote, mid in (("USD", "1.0563"), ("GBP", "0.83248"), ("CHF", "0.9306")):
                await fx_service.rate_set(
                    db, ctx, base="EUR", quote=quote, mid=Decimal(mid),
                    spread=Decimal("0.005"), effective_at=None,
                )  # fmt: skip
        holders: list[_Holder] = []
        for index in range(customers):
            customer_id, _ = await _customer(db, ctx, keyring, rng, index)
            accounts = await _accounts(db, ctx, customer_id, products, index)
            holders.append(
                _Holder(
                    customer_id,
                    accounts["current"],
                    accounts.get("savings"),
                    accounts.get("dollars"),
                    salary=250_000 + 10_000 * (index % 20),
                )
            )
            seeded.customers += 1
            seeded.accounts += len(accounts)
            progress("customers", index + 1, customers)
        portal_users: list[uuid.UUID] = []
        for index, holder in enumerate(holders[:2]):
            email = f"customer{index + 1}@{DOMAIN}"
            user_id, password = await _user(
                db, keyring, email=email, role="customer", name=_person(rng, index)[0]
            )
            portal_users.append(user_id)
            await banking.customer_user_link(
                db, ctx, customer_id=holder.customer_id, user_id=user_id, role="owner"
            )
            secret = demo_totp_secret(keyring, email) if index == 0 else None
            if secret is not None:
                await totp_provision(
                    db, keyring, tenant_id=tenant_id, user_id=user_id, secret=secret
                )
            note = f"portal user of {_person(rng, index)[0]}"
            seeded.logins.append(Login("customer", email, password, secret, note))
        if not await alerts.alert_list(db, ctx, account_id=holders[0].current):
            await alerts.alert_create(
                db, ctx, account_id=holders[0].current, kind="low_balance", threshold=50_000
            )
        await _insights(db, ctx, holders[0].customer_id)
        for offset in range(days):
            day = start + timedelta(days=offset)
            frozen.current = datetime.combine(day, time(9, 30), tzinfo=UTC)
            await _day(db, ctx, day, holders, seeded, first=offset == 0)
            progress("history", offset + 1, days)
        await _joint_accounts(db, ctx, holders[:2], portal_users)
    return seeded


async def _joint_accounts(
    db: Database, ctx: Context, pair: list[_Holder], portal_users: list[uuid.UUID]
) -> None:
    """The first two customers hold each other's current account as co-owners: the first
    either may sign; the second needs both, and its portal user asked for a payment that
    waits for the other's approval. Found again on a rerun, never added twice."""
    for mine, theirs in ((pair[0], pair[1]), (pair[1], pair[0])):
        held = await banking.holder_list(db, ctx, account_id=mine.current)
        if all(h.customer_id != theirs.customer_id for h in held):
            await banking.holder_add(
                db,
                ctx,
                account_id=mine.current,
                request=HolderCreate(
                    customer_id=theirs.customer_id, role="co_owner", nickname="Shared"
                ),
            )
    await banking.account_signing_set(db, ctx, account_id=pair[1].current, signing_rule="all")
    asker = Context(
        tenant_id=ctx.tenant_id,
        actor_type="user",
        actor_id=portal_users[1],
        role="customer",
        permissions=CUSTOMER_PORTAL,
    )
    request = TransferCreate(
        from_account_id=pair[1].current,
        to_account_id=pair[0].current,
        amount=12_000,
        currency="EUR",
        reference="New sofa (both sign)",
    )
    await banking.transfer_submit(db, asker, request=request, key="demo:joint:approval")
