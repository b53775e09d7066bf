"""Builders for the payee and payment tests: a bank with two customers and portal users."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.banking.factories import account, customer, link, ok, product
from tests.factories import Principal

MakePrincipal = Callable[..., Awaitable[Principal]]
OUTSIDE_IBAN = "DE89370400440532013000"
OUTSIDE_BIC = "COBADEFFXXX"


async def bank(client: httpx.AsyncClient, make_principal: MakePrincipal) -> dict[str, Any]:
    """Staff, customers Alice (with an owner and a viewer) and Bob, a funded account each."""
    staff = await make_principal(role="owner")
    alice, bob = await customer(client, staff), await customer(client, staff)
    current = await product(client, staff)
    mine = await account(
        client, staff, customer_id=alice["id"], product_id=current["id"], deposit=10_000
    )
    theirs = await account(
        client, staff, customer_id=bob["id"], product_id=current["id"], deposit=10_000
    )
    owner = await make_principal(role="customer", tenant_id=staff.tenant_id)
    viewer = await make_principal(role="customer", tenant_id=staff.tenant_id)
    await link(client, staff, alice["id"], owner, "owner")
    await link(client, staff, alice["id"], viewer, "viewer")
    return {
        "staff": staff,
        "owner": owner,
        "viewer": viewer,
        "alice": alice,
        "bob": bob,
        "product": current,
        "mine": mine,
        "theirs": theirs,
    }


def payee_body(customer_id: str, **overrides: Any) -> dict[str, Any]:
    """A payee at an outside bank."""
    return {
        "customer_id": customer_id,
        "name": "Grace Hopper",
        "iban": OUTSIDE_IBAN,
        "bic": OUTSIDE_BIC,
        "nickname": "Landlady",
        **overrides,
    }


async def payee(
    client: httpx.AsyncClient, actor: Principal, customer_id: str, **overrides: Any
) -> dict[str, Any]:
    """A payee added by `actor`."""
    made = await client.post(
        "/v1/payees", json=payee_body(customer_id, **overrides), headers=actor.headers
    )
    return ok(made, 201)  # type: ignore[no-any-return]


async def trial_balanced(client: httpx.AsyncClient, staff: Principal) -> bool:
    """Whether the tenant's ledger balances in every currency."""
    return bool(ok(await client.get("/v1/ledger/trial-balance", headers=staff.headers))["balanced"])


def payment_body(from_account_id: str, **overrides: Any) -> dict[str, Any]:
    """A payment of 25.00 EUR to an outside creditor (unless overridden)."""
    return {
        "from_account_id": from_account_id,
        "creditor": {"name": "Grace Hopper", "iban": OUTSIDE_IBAN, "bic": OUTSIDE_BIC},
        "amount": 2500,
        "currency": "EUR",
        "reference": "Invoice 42",
        "purpose": "SUPP",
        "charges": "SHA",
        **overrides,
    }


async def pay(
    client: httpx.AsyncClient, actor: Principal, from_account_id: str, **overrides: Any
) -> httpx.Response:
    """POST /v1/payments with a fresh Idempotency-Key."""
    return await client.post(
        "/v1/payments",
        json=payment_body(from_account_id, **overrides),
        headers={**actor.headers, "Idempotency-Key": secrets.token_hex(8)},
    )


async def balance(client: httpx.AsyncClient, staff: Principal, account_id: str) -> dict[str, Any]:
    """The account's balance read."""
    return ok(await client.get(f"/v1/accounts/{account_id}/balance", headers=staff.headers))  # type: ignore[no-any-return]
