"""Hostile values in every money field of the API are refused precisely and change nothing.

The money fields are discovered from the OpenAPI document, not listed by hand: every
request-body property whose name says amount, limit or balance and whose type is an
integer (minor units), and every property named `currency` or `*_currency`. A new
module's money field is therefore covered the day its route is mounted.

For each field the test builds a body from the schema's own examples, first proves that a
valid value there is accepted by validation (the body around the field is sound), then
sends every hostile value: negative, zero where the schema's minimum forbids it,
fractions (12.5, "12.50", 1.0), the JSON tokens NaN and 1e309 (infinity) in a raw body,
2**63 and 10**30, numbers as strings, booleans (true is not 1), null where the field is
not nullable, lists and objects; for currencies unknown codes ("ZZZ", "XXX" which is ISO's
"no currency"), "eur", "EURO", "" and numbers. Each must be a 400 problem+json of type
validation-error naming exactly that field, and no table may change.

Then the refusals only the ledger can decide, against real accounts: a balance or total
past 2**63 - 1 minor units (an unhandled bigint overflow before), a currency that differs
from the account's, and a transfer from an account to itself, alone and in batches.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from fiscus.api import create_app
from fiscus.core.errors import PROBLEM_BASE
from fiscus.core.money import MAX_MINOR
from fiscus.ledger.schemas import ACCOUNT_ID, OTHER_ID
from tests.conftest import make_settings
from tests.factories import Principal
from tests.security.state import state_digest

MakePrincipal = Callable[..., Awaitable[Principal]]
PROBLEM_JSON = "application/problem+json"
VALIDATION = PROBLEM_BASE + "validation-error"
LEDGER = "/v1/ledger"
AMOUNT_NAME = re.compile(r"amount|limit|balance")
CURRENCY_NAME = re.compile(r"(^|_)currency$")


@dataclass(frozen=True)
class MoneyField:
    """One money property of one operation's request body."""

    method: str
    path: str
    pointer: tuple[str, ...]  # property names, "[]" for "every item of this array"
    kind: str  # "amount" or "currency"
    minimum: int | None
    nullable: bool
    body_schema: dict[str, Any]

    @property
    def name(self) -> str:
        return ".".join(self.pointer).replace(".[]", "[]")

    @property
    def error_field(self) -> str:
        """The dotted path our problem's `errors[].field` names (first array item)."""
        return ".".join(["body", *("0" if part == "[]" else part for part in self.pointer)])

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.name}"


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The node behind a $ref and a nullable anyOf, and whether null is allowed."""
    nullable = False
    while True:
        if "$ref" in node:
            node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
        elif "anyOf" in node:
            variants = [v for v in node["anyOf"] if v.get("type") != "null"]
            nullable = nullable or len(variants) < len(node["anyOf"])
            # A real union (a standing order's `day`: 1-31 or "last"): its first variant.
            node = variants[0]
        else:
            return node, nullable


def _minimum(node: dict[str, Any]) -> int | None:
    if "minimum" in node:
        return int(node["minimum"])
    if "exclusiveMinimum" in node:
        return int(node["exclusiveMinimum"]) + 1
    return None


def money_fields(doc: dict[str, Any]) -> list[MoneyField]:
    """Every money property of every request body in the OpenAPI document."""
    found: list[MoneyField] = []

    def walk(
        node: dict[str, Any], pointer: tuple[str, ...], seen: frozenset[str], op: tuple[str, ...]
    ) -> None:
        ref = node.get("$ref")
        if ref is not None:
            if ref in seen:
                return  # a recursive schema: its fields were found on the first visit
            seen = seen | {ref}
        resolved, _ = _resolve(doc, node)
        if resolved.get("type") == "array":
            walk(resolved["items"], (*pointer, "[]"), seen, op)
        for name, child in resolved.get("properties", {}).items():
            target, nullable = _resolve(doc, child)
            kind = None
            if AMOUNT_NAME.search(name) and target.get("type") == "integer":
                kind = "amount"
            elif CURRENCY_NAME.search(name) and target.get("type") == "string":
                kind = "currency"
            if kind is not None:
                method, path = op
                found.append(
                    MoneyField(
                        method, path, (*pointer, name), kind, _minimum(target), nullable, body
                    )
                )
            walk(child, (*pointer, name), seen, op)

    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = content["application/json"]["schema"]
                walk(body, (), frozenset(), (method.upper(), path))
    return found


def body_with(doc: dict[str, Any], field: MoneyField, leaf: Any) -> Any:
    """A body built from the schemas' examples with `leaf` at the field's place."""

    def build(node: dict[str, Any], pointer: tuple[str, ...], existing: Any) -> Any:
        if not pointer:
            return leaf
        resolved, _ = _resolve(doc, node)
        head, rest = pointer[0], pointer[1:]
        if head == "[]":
            items = copy.deepcopy(existing) if isinstance(existing, list) and existing else [None]
            items[0] = build(resolved["items"], rest, items[0])
            return items
        candidates = [existing] if isinstance(existing, dict) else []
        candidates += resolved.get("examples", [])
        with_head = [c for c in candidates if head in c]
        base = copy.deepcopy((with_head or candidates or [{}])[0])
        base[head] = build(resolved["properties"][head], rest, base.get(head))
        return base

    return build(field.body_schema, field.pointer, None)


def _collect() -> tuple[dict[str, Any], list[MoneyField]]:
    document = create_app(make_settings(None)).openapi()
    return document, money_fields(document)


DOCUMENT, FIELDS = _collect()

# Raw JSON texts, so tokens Python would never produce (NaN, 1e309) reach the server.
AMOUNT_ATTACKS = [
    "12.5",
    '"12.50"',
    "1.0",
    "NaN",
    '"NaN"',
    "Infinity",
    "1e309",
    "-1e309",
    str(2**63),
    str(-(2**63) - 1),
    str(10**30),
    '"100"',
    '"abc"',
    '""',
    "true",
    "false",
    "[]",
    "{}",
]
CURRENCY_ATTACKS = [
    '"ZZZ"',
    '"XXX"',
    '"XTS"',
    '"eur"',
    '"EURO"',
    '"EU"',
    '""',
    '"EUR "',
    '"€"',
    "978",
    "true",
    '["EUR"]',
    '{"code": "EUR"}',
]
LEAF = "__hostile_leaf__"


def attacks(field: MoneyField) -> list[str]:
    """The hostile values for a field, from its kind and its schema."""
    values = list(AMOUNT_ATTACKS if field.kind == "amount" else CURRENCY_ATTACKS)
    if field.kind == "amount":
        assert field.minimum is not None, f"{field} has no lower bound in its schema"
        values += [str(v) for v in (-1, 0, field.minimum - 1) if v < field.minimum]
    if not field.nullable:
        values.append("null")
    return sorted(set(values))


def valid_leaf(field: MoneyField) -> Any:
    """A value the schema accepts: the smallest allowed amount (0 where 0 is allowed)."""
    if field.kind == "currency":
        return "EUR"
    assert field.minimum is not None
    return max(field.minimum, 1) if field.minimum > 0 else field.minimum


def test_money_fields_are_discovered_from_the_schema() -> None:
    names = {str(field) for field in FIELDS}
    expected = {
        "POST /v1/ledger/accounts overdraft_limit",
        "POST /v1/ledger/accounts currency",
        "PATCH /v1/ledger/accounts/{account_id} overdraft_limit",
        "POST /v1/ledger/transfers amount",
        "POST /v1/ledger/transfers currency",
        "POST /v1/ledger/transfers legs[].amount",
        "POST /v1/ledger/transfers legs[].currency",
        "POST /v1/ledger/transfers fx.from_currency",
        "POST /v1/ledger/transfers fx.to_currency",
        "POST /v1/ledger/transfers/batch transfers[].amount",
        "POST /v1/ledger/transfers/batch transfers[].legs[].amount",
        "POST /v1/ledger/transfers/batch transfers[].legs[].currency",
        "POST /v1/ledger/transfers/batch transfers[].fx.to_currency",
        "POST /v1/ledger/transfers/{transfer_id}/post amount",
    }
    assert expected <= names, expected - names
    assert {
        "POST /v1/accounts/{account_id}/deposits amount",
        "POST /v1/transfers amount",
        "POST /v1/transfers currency",
        "POST /v1/products overdraft_limit",
        "PUT /v1/customers/{customer_id}/limits daily_limit",
    } <= names
    # Every amount has a lower bound; none is a float; zero is allowed only for limits, for
    # the balances a product asks to keep (none), and in a product's fee and interest terms
    # (a fee of 0 is no fee), and at the low end of a spending rule's amount range.
    for field in FIELDS:
        if field.kind == "amount":
            assert field.minimum is not None and field.minimum >= 0, field
            zero_allowed = (
                "limit" in field.name
                or field.pointer[-1].startswith("minimum_")
                or field.path == "/v1/products/{product_id}/terms"
                or field.pointer[-1] in ("amount_min", "amount_max")  # a rule's range bounds
            )
            assert field.minimum == (0 if zero_allowed else 1), field


@dataclass
class World:
    """Real accounts and a pending transfer of one tenant, and its operator."""

    who: Principal
    bank: str  # EUR asset, debit-normal
    wallet: str  # EUR liability, credit-normal
    pending: str  # a pending bank -> wallet transfer of 500

    def path(self, template: str) -> str:
        ids = {"account_id": self.wallet, "transfer_id": self.pending}
        return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), template)

    def raw_body(self, field: MoneyField, leaf: str) -> bytes:
        """The example body with this account's ids and a raw JSON text at the field."""
        text = json.dumps(body_with(DOCUMENT, field, LEAF))
        text = text.replace(ACCOUNT_ID, self.bank).replace(OTHER_ID, self.wallet)
        return text.replace(json.dumps(LEAF), leaf).encode()


def headers(who: Principal) -> dict[str, str]:
    return {
        **who.headers,
        "Idempotency-Key": uuid.uuid4().hex,
        "content-type": "application/json",
    }


async def _post(client: httpx.AsyncClient, who: Principal, path: str, body: Any) -> Any:
    response = await client.post(path, json=body, headers=headers(who))
    assert response.status_code == 201, response.text
    return response.json()


async def _account(
    client: httpx.AsyncClient, who: Principal, currency: str = "EUR", **fields: Any
) -> str:
    body = {
        "code": f"acc-{uuid.uuid4().hex[:10]}",
        "name": "Account",
        "currency": currency,
        "type": "liability",
        "normal_side": "credit",
        **fields,
    }
    return str((await _post(client, who, f"{LEDGER}/accounts", body))["id"])


@pytest.fixture
async def world(client: httpx.AsyncClient, make_principal: MakePrincipal) -> World:
    # An admin may call every route that has a money field (products need more than an
    # operator), so each refusal below is about the value, never the permission.
    who = await make_principal(role="admin")
    bank = await _account(client, who, type="asset", normal_side="debit")
    wallet = await _account(client, who)
    pending = await _post(
        client,
        who,
        f"{LEDGER}/transfers",
        {
            "debit_account_id": bank,
            "credit_account_id": wallet,
            "amount": 500,
            "currency": "EUR",
            "pending": True,
        },
    )
    return World(who, bank, wallet, str(pending["id"]))


def assert_problem(response: httpx.Response, status: int, problem_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["type"] == problem_type, body
    assert body["status"] == status
    return body


def _names_field(problem: dict[str, Any], field: MoneyField) -> bool:
    wanted = field.error_field
    return any(
        e["field"] == wanted or e["field"].startswith(wanted + ".") for e in problem["errors"]
    )


@pytest.mark.parametrize("field", FIELDS, ids=str)
async def test_hostile_values_in_a_money_field_are_refused_and_change_nothing(
    client: httpx.AsyncClient, app: FastAPI, world: World, field: MoneyField
) -> None:
    path = world.path(field.path)
    # The control: with a valid value the body passes validation (the service may still
    # refuse it, e.g. an unbalanced leg), so a refusal below is about the value alone.
    control = await client.request(
        field.method,
        path,
        content=world.raw_body(field, json.dumps(valid_leaf(field))),
        headers=headers(world.who),
    )
    assert control.status_code < 500, control.text
    if control.status_code == 400:
        assert not _names_field(control.json(), field), control.text
    before = await state_digest(app.state.database_url)
    for raw in attacks(field):
        response = await client.request(
            field.method, path, content=world.raw_body(field, raw), headers=headers(world.who)
        )
        problem = assert_problem(response, 400, VALIDATION)
        assert _names_field(problem, field), (raw, problem)
    assert await state_digest(app.state.database_url) == before


# Refusals the ledger decides against real accounts.


async def _transfer(
    client: httpx.AsyncClient, who: Principal, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"{LEDGER}/transfers", json=body, headers=headers(who))


def _pair(debit: str, credit: str, amount: int, currency: str = "EUR") -> dict[str, Any]:
    return {
        "debit_account_id": debit,
        "credit_account_id": credit,
        "amount": amount,
        "currency": currency,
    }


async def refuse(
    client: httpx.AsyncClient, who: Principal, path: str, body: Any, status: int, kind: str
) -> int:
    """POST a request the ledger must refuse; return the idempotency keys it may keep.

    A refused transfer stores nothing. A refused batch goes through the generic
    idempotency store, which keeps a business refusal under its key by design (so the
    retry answers the same); the test proves the retry does, and allows that one row.
    """
    sent = headers(who)
    response = await client.post(f"{LEDGER}{path}", json=body, headers=sent)
    assert_problem(response, status, PROBLEM_BASE + kind)
    if not path.endswith("/batch"):
        return 0
    again = await client.post(f"{LEDGER}{path}", json=body, headers=sent)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["type"] == PROBLEM_BASE + kind
    return 1


def assert_unchanged(
    before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]], *, kept_keys: int
) -> None:
    """Nothing changed but the given number of stored idempotency refusals."""
    assert after["idempotency_keys"][0] == before["idempotency_keys"][0] + kept_keys
    assert {t: v for t, v in after.items() if t != "idempotency_keys"} == {
        t: v for t, v in before.items() if t != "idempotency_keys"
    }


@pytest.fixture
async def operator(make_principal: MakePrincipal) -> Principal:
    return await make_principal(role="operator")


async def test_balances_past_the_bigint_range_are_refused_and_change_nothing(
    client: httpx.AsyncClient, app: FastAPI, operator: Principal
) -> None:
    async def account(**fields: Any) -> str:
        return await _account(client, operator, **fields)

    debit_normal = {"type": "asset", "normal_side": "debit"}
    bank, extra, held = [await account(**debit_normal) for _ in range(3)]
    wallet, other = await account(overdraft_limit=MAX_MINOR), await account()
    # The largest amount is valid: once posted, once pending.
    for body in (
        _pair(bank, wallet, MAX_MINOR),
        {**_pair(held, other, MAX_MINOR), "pending": True},
    ):
        response = await _transfer(client, operator, body)
        assert response.status_code == 201, response.text
    sources, sinks = (
        [await account(**debit_normal) for _ in range(2)],
        [await account() for _ in range(2)],
    )
    before = await state_digest(app.state.database_url)
    refused: list[tuple[str, dict[str, Any]]] = [
        ("/transfers", _pair(bank, other, 1)),  # the bank's posted debits pass 2**63 - 1
        ("/transfers", _pair(extra, wallet, 1)),  # the wallet's posted credits
        ("/transfers", {**_pair(held, wallet, 1), "pending": True}),  # pending debits
        (
            # Each account stays in range but the transfer's total (its debits) does not.
            "/transfers",
            {
                "currency": "EUR",
                "legs": [
                    *(
                        {"account_id": a, "direction": "debit", "amount": MAX_MINOR}
                        for a in sources
                    ),
                    *({"account_id": a, "direction": "credit", "amount": MAX_MINOR} for a in sinks),
                ],
            },
        ),
        # One item of a batch overflows: an atomic batch posts nothing, and so (for now)
        # does an independent one, since the overflow aborts the batch's one statement.
        (
            "/transfers/batch",
            {"mode": "atomic", "transfers": [_pair(extra, other, 5), _pair(bank, other, 1)]},
        ),
        (
            "/transfers/batch",
            {"mode": "independent", "transfers": [_pair(extra, other, 5), _pair(bank, other, 1)]},
        ),
    ]
    kept = 0
    for path, body in refused:
        kept += await refuse(client, operator, path, body, 422, "ledger-amount-out-of-range")
        assert_unchanged(before, await state_digest(app.state.database_url), kept_keys=kept)
    # Still serving: a small transfer between fresh accounts posts.
    assert (await _transfer(client, operator, _pair(extra, other, 5))).status_code == 201


async def test_currency_mismatch_and_self_transfer_are_refused_and_change_nothing(
    client: httpx.AsyncClient, app: FastAPI, operator: Principal
) -> None:
    bank = await _account(client, operator, type="asset", normal_side="debit")
    wallet = await _account(client, operator)
    dollars = await _account(client, operator, currency="USD")
    before = await state_digest(app.state.database_url)
    mismatch, same = "currency_mismatch", "accounts_must_be_different"

    def legs(*parts: tuple[str, str, int, str | None]) -> dict[str, Any]:
        return {
            "currency": "EUR",
            "legs": [
                {"account_id": a, "direction": d, "amount": n, "currency": c}
                for a, d, n, c in parts
            ],
        }

    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/transfers", _pair(bank, wallet, 100, "USD"), 422, mismatch),
        ("/transfers", _pair(bank, dollars, 100), 422, mismatch),
        (
            "/transfers",
            legs((bank, "debit", 100, "USD"), (wallet, "credit", 100, "USD")),
            422,
            mismatch,
        ),
        ("/transfers", _pair(bank, bank, 100), 422, same),
        ("/transfers", _pair(dollars, dollars, 100, "USD"), 422, same),
        ("/transfers", legs((bank, "debit", 100, None), (bank, "credit", 100, None)), 422, same),
        (
            "/transfers",
            legs(
                (bank, "debit", 50, None), (bank, "debit", 50, None), (wallet, "credit", 100, None)
            ),
            422,
            same,
        ),
    ]
    kept = 0
    for path, body, status, kind in cases:
        kept += await refuse(client, operator, path, body, status, kind)
    for item in (_pair(bank, bank, 100), _pair(bank, dollars, 100)):
        batch = {"mode": "atomic", "transfers": [_pair(bank, wallet, 1), item]}
        kept += await refuse(client, operator, "/transfers/batch", batch, 422, "batch-refused")
    assert_unchanged(before, await state_digest(app.state.database_url), kept_keys=kept)
