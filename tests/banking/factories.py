"""Small builders for banking tests, all through the HTTP API."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from sqlalchemy import text

from fiscus.core.db import Database
from tests.factories import Principal


def individual(**overrides: Any) -> dict[str, Any]:
    """The body of a new individual customer with unique contact data."""
    tag = secrets.token_hex(4)
    return {
        "kind": "individual",
        "name": f"Ada Lovelace {tag}",
        "email": f"ada-{tag}@example.com",
        "phone": "+44 20 7946 0" + str(int(tag, 16) % 1000).zfill(3),
        "birth_date": "1990-12-10",
        "tax_id": f"de-{tag}",
        "tax_residence": "DE",
        "address": {
            "line1": f"{tag} Analytical Street",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
        },
        **overrides,
    }


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON of a response that must have `status`."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def customer(
    client: httpx.AsyncClient, staff: Principal, *, verified: bool = True, **overrides: Any
) -> dict[str, Any]:
    """A customer created (and KYC-verified unless told otherwise) by `staff`."""
    made = ok(
        await client.post("/v1/customers", json=individual(**overrides), headers=staff.headers),
        201,
    )
    if verified:
        made = ok(
            await client.post(
                f"/v1/customers/{made['id']}/kyc-review",
                json={"status": "verified"},
                headers=staff.headers,
            )
        )
    return made  # type: ignore[no-any-return]


async def product(client: httpx.AsyncClient, staff: Principal, **overrides: Any) -> dict[str, Any]:
    """A current-account product in EUR (unless overridden)."""
    body = {"name": "Current", "type": "current", "currency": "EUR", **overrides}
    return ok(await client.post("/v1/products", json=body, headers=staff.headers), 201)  # type: ignore[no-any-return]


async def account(
    client: httpx.AsyncClient,
    staff: Principal,
    *,
    customer_id: str,
    product_id: str,
    deposit: int = 0,
) -> dict[str, Any]:
    """An account opened by `staff`, with `deposit` minor units paid in."""
    made = ok(
        await client.post(
            "/v1/accounts",
            json={"customer_id": customer_id, "product_id": product_id},
            headers=staff.headers,
        ),
        201,
    )
    if deposit:
        ok(
            await client.post(
                f"/v1/accounts/{made['id']}/deposits",
                json={"amount": deposit, "currency": made["currency"], "reference": "cash"},
                headers={**staff.headers, "Idempotency-Key": secrets.token_hex(8)},
            ),
            201,
        )
    return made  # type: ignore[no-any-return]


async def link(
    client: httpx.AsyncClient, staff: Principal, customer_id: str, user: Principal, role: str
) -> None:
    """Make `user` (a portal user) an owner or viewer of the customer."""
    ok(
        await client.put(
            f"/v1/customers/{customer_id}/users/{user.user_id}",
            json={"role": role},
            headers=staff.headers,
        )
    )


async def events_of(db: Database, staff: Principal, like: str) -> list[tuple[str, Any]]:
    """The (type, payload) of the staff's tenant's events whose type is LIKE `like`, in
    order (read from the outbox: the feed shows only relayed events)."""
    async with db.uow() as uow:
        rows = await uow.session.execute(
            text(
                "SELECT type, payload FROM events WHERE tenant_id = :t AND type LIKE :like"
                " ORDER BY id"
            ),
            {"t": staff.tenant_id, "like": like},
        )
        return [(kind, payload) for kind, payload in rows.all()]
