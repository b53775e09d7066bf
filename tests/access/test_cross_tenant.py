"""Another tenant's objects are out of reach: every route, real objects of every kind.

Tenant B gets one real object of each kind (ledger accounts, a pending and a posted
transfer, a webhook endpoint and its deliveries, events, a message template, an in-app
message, users, an API key, a session, a custom role, audit events). The owner of tenant A
then calls every route of the app that names an object in its path, with B's object and a
valid body, POST actions included (post, void, reverse, close, retry, replay, test,
rotate-secret): each answers 404, and every row of tenant B is byte for byte what it was.

The list of routes comes from the app: a new route with an object in its path, or a new
request body holding an `..._id` reference, fails this test until it gets a probe here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.events import events_relay_batch
from fiscus.messaging._directory import IdentityDirectory
from fiscus.messaging._recipients import install_directory
from fiscus.messaging.dispatch import messages_dispatch
from fiscus.worker import install_event_subscribers
from tests.access.test_matrix import CUSTOM_ROLE, operations
from tests.banking.factories import account as bank_account
from tests.banking.factories import customer as bank_customer
from tests.banking.factories import product as bank_product
from tests.banking.payment_factories import payee_body, payment_body
from tests.conftest import make_settings
from tests.factories import Principal, principal, session_headers
from tests.identity.authenticator import SoftAuthenticator
from tests.races.helpers import ledger_of

# Keyed by name within the caller's tenant: A's call creates or changes A's own object of
# that name (B's stays as it is, which the snapshot checks), so these answer 2xx, not 404.
OWN_TENANT_UPSERTS = {
    ("PUT", "/v1/roles/{name}"),
    ("PUT", "/v1/message-templates/{event_type}/{channel}"),
}
# The path parameter `event_id` names an audit event on /v1/audit-events and an outbox
# event on /v1/events; transfers and accounts have several of B's objects to aim at.
OBJECT_FOR = {
    ("GET", "/v1/audit-events/{event_id}"): {"event_id": "audit_event_id"},
    ("POST", "/v1/ledger/transfers/{transfer_id}/post"): {"transfer_id": "pending_id"},
    ("POST", "/v1/ledger/transfers/{transfer_id}/void"): {"transfer_id": "pending_id"},
    ("POST", "/v1/ledger/accounts/{account_id}/close"): {"account_id": "empty_account_id"},
    **{
        (method, f"/v1/accounts/{{account_id}}{tail}"): {"account_id": "bank_account_id"}
        for method, tail in (
            ("GET", ""),
            ("POST", "/freeze"),
            ("POST", "/unfreeze"),
            ("POST", "/close"),
            ("POST", "/deposits"),
            ("GET", "/balance"),
            ("GET", "/transactions"),
            ("GET", "/statement"),
            ("GET", "/statements"),
            ("GET", "/insights"),
            ("GET", "/transactions/{entry_id}/category"),
            ("PATCH", "/transactions/{entry_id}/category"),
            ("GET", "/interest"),
        )
    },
    ("GET", "/v1/transfers/{transfer_id}"): {"transfer_id": "bank_transfer_id"},
    ("GET", "/v1/transfers/{transfer_id}/receipt.pdf"): {"transfer_id": "bank_transfer_id"},
    **{
        (method, f"/v1/accounts/{{account_id}}{tail}"): {
            "account_id": "bank_account_id",
            "customer_id": "holder_customer_id",
        }
        for method, tail in (
            ("GET", "/holders"),
            ("POST", "/holders"),
            ("PATCH", "/holders/{customer_id}"),
            ("DELETE", "/holders/{customer_id}"),
            ("PUT", "/signing-rule"),
        )
    },
}
TEMPLATE = ("transfer.posted", "in_app")
# Fields ending in `_id` that name no object of fiscus (a customer's tax number).
NOT_REFERENCES = {"tax_id", "end_to_end_id"}
_PARAM = re.compile(r"\{([^}]+)\}")


@pytest.fixture
def settings(clean_database: str) -> Settings:
    """Loopback webhook endpoints allowed (B's endpoint is never called: no worker runs)."""
    return make_settings(clean_database, webhooks_allow_private=True)


@pytest.fixture
async def identity_directory(db: Database) -> AsyncIterator[None]:
    """Messaging reads users from identity, as in the worker."""
    install_directory(IdentityDirectory(db, await _keyring(db)))
    yield
    install_directory(None)


async def _keyring(db: Database) -> Any:
    from tests.factories import keyring_for

    return await keyring_for(db, make_settings(None))


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def _tenant_b(app: FastAPI, client: httpx.AsyncClient, db: Database) -> dict[str, Any]:
    """Tenant B with one real object of every kind; returns its owner and the ids."""
    b = await principal(app, role="owner")
    member = await principal(app, role="analyst", tenant_id=b.tenant_id)
    auth = b.headers
    ledger = ledger_of(app, client, b)
    bank = await ledger.account(normal_side="debit")
    wallet = await ledger.wallet(funded_by=bank, amount=1_000)
    empty = await ledger.account()

    def transfer(pending: bool) -> dict[str, Any]:
        body = {"debit_account_id": str(wallet), "credit_account_id": str(empty)}
        return {**body, "amount": 100, "currency": "EUR", "pending": pending}

    posted = _ok(
        await client.post("/v1/ledger/transfers", json=transfer(False), headers=ledger.headers()),
        201,
    )
    pending = _ok(
        await client.post("/v1/ledger/transfers", json=transfer(True), headers=ledger.headers()),
        201,
    )
    # `empty` took 100 in the posted transfer: move it back so it could be closed.
    _ok(
        await client.post(
            f"/v1/ledger/transfers/{posted['id']}/reverse", json={}, headers=ledger.headers()
        ),
        201,
    )
    endpoint = _ok(
        await client.post(
            "/v1/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["transfer.*"]},
            headers=auth,
        ),
        201,
    )
    _ok(
        await client.put(
            f"/v1/message-templates/{TEMPLATE[0]}/{TEMPLATE[1]}", json={"text": "B's"}, headers=auth
        )
    )
    _ok(
        await client.post(
            "/v1/announcements", json={"title": "B only", "body": "hello"}, headers=auth
        ),
        202,
    )
    install_event_subscribers()
    keyring = await _keyring(db)
    while await events_relay_batch(db, keyring=keyring):
        pass
    await messages_dispatch(db, settings=app.state.settings, keyring=keyring)
    test = _ok(await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=auth), 202)
    key = _ok(
        await client.post("/v1/api-keys", json={"name": "b", "role": "analyst"}, headers=auth), 201
    )
    _ok(await client.put("/v1/roles/auditor", json=CUSTOM_ROLE, headers=auth))
    [message, *_] = _ok(await client.get("/v1/me/messages", headers=member.headers))["data"]
    member_key = SoftAuthenticator(origin=app.state.identity.config.webauthn_origin)
    passkey = _ok(
        await client.post(
            "/v1/me/passkeys",
            json={
                "name": "B's",
                "credential": member_key.create(
                    _ok(await client.post("/v1/me/passkey-options", headers=member.headers))
                ),
            },
            headers=member.headers,
        ),
        201,
    )
    factor = _ok(
        await client.post(
            "/v1/me/mfa/factors",
            json={"kind": "sms", "address": "+4915112345678"},
            headers=member.headers,
        ),
        201,
    )
    banking = await _banking_of_b(client, b)
    banking["approval_id"] = await _approval_of_b(app, client, b, banking)
    events = _ok(await client.get("/v1/events", headers=auth))["data"]
    audit = _ok(await client.get("/v1/audit-events", headers=auth))["data"]
    return {
        "owner": b,
        "member": member,
        "key": key["key"],
        "account_id": str(wallet),
        "empty_account_id": str(empty),
        "transfer_id": posted["id"],
        "pending_id": pending["id"],
        "endpoint_id": endpoint["id"],
        "delivery_id": test["id"],
        "event_id": events[0]["id"],
        "audit_event_id": audit[0]["id"],
        "message_id": message["id"],
        "factor_id": factor["id"],
        "passkey_id": passkey["id"],
        "user_id": str(member.user_id),
        "key_id": key["id"],
        "session_id": str(member.session_id),
        "name": CUSTOM_ROLE["name"],
        "event_type": TEMPLATE[0],
        "channel": TEMPLATE[1],
        **banking,
    }


async def _banking_of_b(client: httpx.AsyncClient, b: Principal) -> dict[str, Any]:
    """B's bank customer with a product, two accounts and a transfer between them."""
    made = await bank_customer(client, b)
    current = await bank_product(client, b)
    first, second = [
        await bank_account(client, b, customer_id=made["id"], product_id=current["id"],
                           deposit=500)
        for _ in range(2)
    ]  # fmt: skip
    transfer = _ok(
        await client.post(
            "/v1/transfers",
            json={"from_account_id": first["id"], "to_account_id": second["id"], "amount": 5,
                  "currency": "EUR"},
            headers={**b.headers, "Idempotency-Key": "b-transfer"},
        ),
        201,
    )  # fmt: skip
    _ok(
        await client.post(
            "/v1/fx/rates", json={"base": "EUR", "quote": "USD", "rate": "1.08"}, headers=b.headers
        ),
        201,
    )
    dollars = await bank_product(client, b, name="Dollars", currency="USD")
    usd = await bank_account(client, b, customer_id=made["id"], product_id=dollars["id"])
    conversion = _ok(
        await client.post(
            "/v1/fx/conversions",
            json={"from_account_id": first["id"], "to_account_id": usd["id"], "amount": 5,
                  "currency": "EUR"},
            headers={**b.headers, "Idempotency-Key": "b-conversion"},
        ),
        201,
    )  # fmt: skip
    alert = _ok(
        await client.post(
            "/v1/alerts",
            json={"account_id": first["id"], "kind": "low_balance", "threshold": 1},
            headers=b.headers,
        ),
        201,
    )
    order = _ok(
        await client.post(
            "/v1/standing-orders",
            json={"from_account_id": first["id"], "to_account_id": second["id"], "amount": 5,
                  "currency": "EUR", "frequency": "monthly",
                  "start_date": "2099-01-31"},
            headers=b.headers,
        ),
        201,
    )  # fmt: skip
    payee = _ok(
        await client.post("/v1/payees", json=payee_body(made["id"]), headers=b.headers), 201
    )
    payment = _ok(
        await client.post(
            "/v1/payments",
            json={**payment_body(first["id"]), "amount": 100},
            headers={**b.headers, "Idempotency-Key": "b-payment"},
        ),
        201,
    )
    rule = _ok(
        await client.post(
            "/v1/spending/rules",
            json={"category": "groceries", "customer_id": made["id"], "reference_contains": "shop"},
            headers=b.headers,
        ),
        201,
    )
    budget = _ok(
        await client.post(
            "/v1/budgets",
            json={"customer_id": made["id"], "category": "groceries", "amount": 100,
                  "currency": "EUR"},
            headers=b.headers,
        ),
        201,
    )  # fmt: skip
    exported = await client.get("/v1/payments/export.pain001", headers=b.headers)
    assert exported.status_code == 200, exported.text
    fee, run = await _interest_and_fees_of(client, b, current["id"])
    partner = await bank_customer(client, b)
    _ok(
        await client.post(
            f"/v1/accounts/{first['id']}/holders",
            json={"customer_id": partner["id"], "role": "co_owner"},
            headers=b.headers,
        ),
        201,
    )
    suspense = _ok(
        await client.post(
            "/v1/incoming-payments",
            json={"bank_reference": f"REF-{uuid.uuid4().hex[:12]}", "amount": 700,
                  "currency": "EUR", "creditor_iban": "GB33BUKB20201555555555"},
            headers=b.headers,
        )
    )["suspense"][0]  # fmt: skip
    return {
        "customer_id": made["id"],
        "product_id": current["id"],
        "bank_account_id": first["id"],
        "bank_usd_account_id": usd["id"],
        "alert_id": alert["id"],
        "bank_transfer_id": transfer["id"],
        "conversion_id": conversion["id"],
        "order_id": order["id"],
        "payee_id": payee["id"],
        "payment_id": payment["id"],
        "export_id": exported.headers["X-Export-Id"],
        "rule_id": rule["id"],
        "budget_id": budget["id"],
        "entry_id": transfer["id"],
        "fee_id": fee,
        "run_id": run,
        "holder_customer_id": partner["id"],
        "second_account_id": second["id"],
        "credit_id": suspense["id"],
    }


async def _interest_and_fees_of(
    client: httpx.AsyncClient, b: Principal, product_id: str
) -> tuple[str, str]:
    """Interest terms, a rate and a per-transfer fee on B's product, then a close of
    business that charges the fee of B's transfer: B's fee and COB run."""
    terms = {"interest": {}, "fees": {"per_transaction": {"transfer_out": 1}}}
    _ok(await client.put(f"/v1/products/{product_id}/terms", json=terms, headers=b.headers))
    today = _ok(await client.get("/v1/banking/business-date", headers=b.headers))
    _ok(
        await client.post(
            f"/v1/products/{product_id}/interest-rates",
            json={"effective_from": today["business_date"], "rate": "0.01"},
            headers=b.headers,
        ),
        201,
    )
    run = _ok(await client.post("/v1/cob/run", json={}, headers=b.headers))
    assert run["status"] == "completed", run
    fees = _ok(await client.get("/v1/fees", headers=b.headers))["data"]
    assert fees, "the close of business charged the transfer's fee"
    return fees[0]["id"], run["id"]


async def _approval_of_b(
    app: FastAPI, client: httpx.AsyncClient, b: Principal, banking: dict[str, Any]
) -> str:
    """A pending approval on B's first account (all-sign, a co-owner), asked by a portal
    user of B's customer."""
    account = banking["bank_account_id"]
    _ok(
        await client.put(
            f"/v1/accounts/{account}/signing-rule", json={"signing_rule": "all"}, headers=b.headers
        )
    )
    portal = await principal(app, role="customer", tenant_id=b.tenant_id)
    _ok(
        await client.put(
            f"/v1/customers/{banking['customer_id']}/users/{portal.user_id}",
            json={"role": "owner"},
            headers=b.headers,
        )
    )
    asked = _ok(
        await client.post(
            "/v1/transfers",
            json={"from_account_id": account, "to_account_id": banking["second_account_id"],
                  "amount": 5, "currency": "EUR"},
            headers={**portal.headers, "Idempotency-Key": "b-approval"},
        ),
        202,
    )  # fmt: skip
    return str(asked["id"])


def _banking_bodies(ids: dict[str, Any], mine: dict[str, Any]) -> dict[tuple[str, str], list[Any]]:
    """Banking bodies naming B's objects (`ids`), with A's own where a second is needed."""
    transfer = {"amount": 1, "currency": "EUR"}
    schedule = {"frequency": "daily", "start_date": "2099-01-01"}
    return {
        ("POST", "/v1/accounts"): [
            {"customer_id": ids["customer_id"], "product_id": mine["product_id"]},
            {"customer_id": mine["customer_id"], "product_id": ids["product_id"]},
        ],
        ("POST", "/v1/payees"): [payee_body(ids["customer_id"])],
        ("POST", "/v1/payments"): [
            payment_body(ids["bank_account_id"]),
            {**payment_body(mine["bank_account_id"]), "creditor": None,
             "payee_id": ids["payee_id"]},
        ],
        ("POST", "/v1/transfers"): [
            {**transfer, "from_account_id": ids["bank_account_id"],
             "to_account_id": mine["bank_account_id"]},
            {**transfer, "from_account_id": mine["bank_account_id"],
             "to_account_id": ids["bank_account_id"]},
        ],
        ("POST", "/v1/alerts"): [
            {"account_id": ids["bank_account_id"], "kind": "low_balance", "threshold": 1},
        ],
        ("POST", "/v1/fx/conversions"): [
            {**transfer, "from_account_id": ids["bank_account_id"],
             "to_account_id": mine["bank_usd_account_id"]},
            {**transfer, "from_account_id": mine["bank_account_id"],
             "to_account_id": ids["bank_usd_account_id"]},
        ],
        ("POST", "/v1/spending/rules"): [
            {"category": "groceries", "customer_id": ids["customer_id"],
             "reference_contains": "shop"},
        ],
        ("POST", "/v1/budgets"): [
            {"customer_id": ids["customer_id"], "category": "groceries", "amount": 100,
             "currency": "EUR"},
        ],
        ("POST", "/v1/standing-orders"): [
            {**transfer, **schedule, "from_account_id": ids["bank_account_id"],
             "to_account_id": mine["bank_account_id"]},
            {**transfer, **schedule, "from_account_id": mine["bank_account_id"],
             "to_account_id": ids["bank_account_id"]},
        ],
        # On A's own account and suspense item (the path), B's customer or account (body).
        ("POST", "/v1/accounts/{account_id}/holders"): [
            {"customer_id": ids["customer_id"], "role": "co_owner"},
        ],
        ("POST", "/v1/incoming-payments/{credit_id}/resolve"): [
            {"action": "book", "account_id": ids["bank_account_id"]},
        ],
    }  # fmt: skip


async def _rows_of(db: Database, tenant_id: uuid.UUID) -> dict[str, list[str]]:
    """Every row of the tenant in every table with a `tenant_id`, and its tenant row."""
    async with db.uow() as uow:  # the login role: no row-level security in the way
        tables = (
            await uow.session.execute(
                text(
                    "SELECT table_name FROM information_schema.columns WHERE table_schema ="
                    " 'public' AND column_name = 'tenant_id' ORDER BY table_name"
                )
            )
        ).scalars()
        rows: dict[str, list[str]] = {}
        for table in [*tables, "tenants"]:
            column = "id" if table == "tenants" else "tenant_id"
            found = await uow.session.execute(
                text(f'SELECT to_jsonb(t)::text FROM "{table}" t WHERE {column} = :t ORDER BY 1'),
                {"t": tenant_id},
            )
            rows[table] = list(found.scalars())
    return rows


def _example(doc: dict[str, Any], method: str, path: str) -> Any:
    """The request body example the OpenAPI document gives for the operation, if any."""
    body = doc["paths"][path][method.lower()].get("requestBody")
    if body is None:
        return None
    schema = body["content"]["application/json"]["schema"]
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    examples = doc["components"]["schemas"].get(name, {}).get("examples") or [{}]
    return examples[0]


def _id_references(doc: dict[str, Any], schema: dict[str, Any], seen: set[str]) -> set[str]:
    """Property names ending in `_id` anywhere in a request schema (following $refs)."""
    found: set[str] = set()
    ref = schema.get("$ref")
    if ref is not None:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return found
        seen.add(name)
        return _id_references(doc, doc["components"]["schemas"][name], seen)
    for prop, sub in schema.get("properties", {}).items():
        if prop.endswith("_id") and prop not in NOT_REFERENCES:
            found.add(prop)
        found |= _id_references(doc, sub, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found |= _id_references(doc, schema[key], seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found |= _id_references(doc, sub, seen)
    return found


def _body_references(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """Operations whose request body refers to objects by id."""
    found = set()
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body and _id_references(doc, body["schema"], set()):
                found.add((method.upper(), path))
    return found


async def _body_probes(b: dict[str, Any], a_wallet: str) -> dict[tuple[str, str], list[Any]]:
    """Bodies naming B's accounts, mixed with A's own where a second account is needed."""
    theirs, mine = b["account_id"], a_wallet
    two_legs = [
        {"debit_account_id": theirs, "credit_account_id": mine},
        {"debit_account_id": mine, "credit_account_id": theirs},
        {"debit_account_id": theirs, "credit_account_id": b["empty_account_id"]},
    ]
    transfers = [{**legs, "amount": 10, "currency": "EUR"} for legs in two_legs]
    multi = {
        "currency": "EUR",
        "legs": [
            {"account_id": theirs, "amount": 10, "direction": "debit"},
            {"account_id": mine, "amount": 10, "direction": "credit"},
        ],
    }
    return {
        ("POST", "/v1/ledger/transfers"): [*transfers, multi],
        ("POST", "/v1/ledger/transfers/batch"): [
            {"mode": mode, "transfers": [transfer]}
            for mode in ("independent", "atomic")
            for transfer in transfers
        ],
    }


@pytest.mark.usefixtures("identity_directory")
async def test_another_tenants_objects_answer_404_and_stay_unchanged(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    app.state.identity.config.plan_limits = dict.fromkeys(
        ("free", "standard", "enterprise"), (10**6, 10**6)
    )
    b = await _tenant_b(app, client, db)
    a = await principal(app, role="owner")
    a_ledger = ledger_of(app, client, a)
    a_wallet = str(
        await a_ledger.wallet(funded_by=await a_ledger.account(normal_side="debit"), amount=500)
    )
    doc = app.openapi()
    before = await _rows_of(db, b["owner"].tenant_id)
    # The snapshot holds B's objects of every kind, so "unchanged" covers each of them.
    assert {t for t, rows in before.items() if rows} >= {
        "api_keys",
        "auth_sessions",
        "events",
        "ledger_accounts",
        "ledger_transfers",
        "message_templates",
        "messages",
        "mfa_factors",
        "passkeys",
        "roles",
        "users",
        "webhook_deliveries",
        "webhook_endpoints",
    }

    unprobed, wrong = [], []
    probed: set[tuple[str, str]] = set()
    for method, path, permission in operations(app):
        if "{" not in path:
            continue
        names = OBJECT_FOR.get((method, path), {})
        params = _PARAM.findall(path)
        if permission is None or any(names.get(p, p) not in b for p in params):
            unprobed.append((method, path))
            continue
        url = _PARAM.sub(lambda m, names=names: str(b[names.get(m[1], m[1])]), path)
        body = _example(doc, method, path)
        if path == "/v1/roles/{name}" and body is not None:
            body = {**body, "name": b["name"]}
        response = await _as(client, a, app, method, url, body)
        expected = (200, 201, 204) if (method, path) in OWN_TENANT_UPSERTS else (404,)
        probed.add((method, path))
        if response.status_code not in expected:
            wrong.append((method, url, response.status_code, response.text[:300]))
    # An account named in a body is refused exactly as an id that never existed would be.
    unknown = {**b, "account_id": str(uuid.uuid4()), "empty_account_id": str(uuid.uuid4())}
    probes, baseline = await _body_probes(b, a_wallet), await _body_probes(unknown, a_wallet)
    for (method, path), bodies in probes.items():
        probed.add((method, path))
        for body, control in zip(bodies, baseline[(method, path)], strict=True):
            response = await _as(client, a, app, method, path, body)
            expected = await _as(client, a, app, method, path, control)
            if _refusal(response) != _refusal(expected) or "account_not_found" not in str(
                _refusal(response)
            ):
                wrong.append((method, path, response.status_code, response.text[:300]))

    # Banking bodies: B's ids are refused exactly like ids that never existed (404).
    mine = await _banking_of_b(client, a)
    fresh = {name: str(uuid.uuid4()) for name in mine}
    for (method, path), bodies in _banking_bodies(b, mine).items():
        probed.add((method, path))
        url = path.format(account_id=mine["bank_account_id"], credit_id=mine["credit_id"])
        for body, control in zip(bodies, _banking_bodies(fresh, mine)[(method, path)], strict=True):
            response = await _as(client, a, app, method, url, body)
            expected = await _as(client, a, app, method, url, control)
            if response.status_code != 404 or _refusal(response) != _refusal(expected):
                wrong.append((method, path, response.status_code, response.text[:300]))

    assert unprobed == [], "routes naming an object without a probe here"
    assert _body_references(doc) <= probed, "request bodies naming objects without a probe"
    assert wrong == [], "\n".join(map(str, wrong))
    assert {
        ("POST", "/v1/ledger/transfers/{transfer_id}/post"),
        ("POST", "/v1/ledger/transfers/{transfer_id}/void"),
        ("POST", "/v1/ledger/transfers/{transfer_id}/reverse"),
        ("POST", "/v1/ledger/accounts/{account_id}/close"),
        ("POST", "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry"),
        ("POST", "/v1/webhook-endpoints/{endpoint_id}/replay"),
        ("POST", "/v1/me/messages/{message_id}/read"),
        ("POST", "/v1/me/mfa/factors/{factor_id}/confirm"),
        ("POST", "/v1/me/mfa/factors/{factor_id}/code"),
        ("DELETE", "/v1/me/mfa/factors/{factor_id}"),
        ("DELETE", "/v1/me/passkeys/{passkey_id}"),
    } <= probed
    assert await _rows_of(db, b["owner"].tenant_id) == before
    # And B still works: its member, its key, its pending transfer can still be posted.
    assert (await client.get("/v1/me", headers=b["member"].headers)).status_code == 200
    b_key = {"Authorization": f"Bearer {b['key']}"}
    assert (await client.get("/v1/audit-events", headers=b_key)).status_code == 200
    b_ledger = ledger_of(app, client, b["owner"])
    posted = await client.post(
        f"/v1/ledger/transfers/{b['pending_id']}/post", json={}, headers=b_ledger.headers()
    )
    assert posted.status_code == 201, posted.text


def _refusal(response: httpx.Response) -> tuple[int, Any]:
    """The status and what it names: the problem's code, or a batch's per-item codes."""
    body = response.json()
    if "results" in body:
        return response.status_code, [(r["status"], r["code"]) for r in body["results"]]
    return response.status_code, body.get("code", body.get("type"))


async def _as(
    client: httpx.AsyncClient, a: Principal, app: FastAPI, method: str, url: str, body: Any
) -> httpx.Response:
    """One call as A's owner on a fresh session, with a fresh idempotency key."""
    headers, *_ = await session_headers(
        app.state.db, app.state.identity, tenant_id=a.tenant_id, user_id=a.user_id
    )
    headers["Idempotency-Key"] = uuid.uuid4().hex
    return await client.request(method, url, json=body, headers=headers)
