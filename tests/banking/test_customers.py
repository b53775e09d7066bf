"""Customers over HTTP: onboarding, search by blind index, KYC review, sealed personal data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from fiscus.core import http
from fiscus.core.db import Database
from fiscus.core.keyring import keys_rotate, sealed_columns
from tests.banking.factories import customer, individual, ok
from tests.factories import Principal
from tests.keyring_checks import assert_nothing_stale

MakePrincipal = Callable[..., Awaitable[Principal]]


async def test_a_customer_is_onboarded_reviewed_and_changed(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="operator")
    body = individual()
    made = ok(await client.post("/v1/customers", json=body, headers=staff.headers), 201)
    assert made["kyc"] == {"status": "pending", "reviewed_by": None, "reviewed_at": None,
                           "notes": None}  # fmt: skip
    assert made["phone"].startswith("+44") and " " not in made["phone"]
    assert made["tax_id"] == body["tax_id"].upper().replace("-", "")
    assert made["name"] == body["name"] and made["address"]["city"] == "London"

    reviewed = ok(
        await client.post(
            f"/v1/customers/{made['id']}/kyc-review",
            json={"status": "verified", "notes": "Passport seen"},
            headers=staff.headers,
        )
    )
    assert reviewed["kyc"]["status"] == "verified"
    assert reviewed["kyc"]["reviewed_by"] == str(staff.user_id)
    assert reviewed["kyc"]["notes"] == "Passport seen"

    changed = ok(
        await client.patch(
            f"/v1/customers/{made['id']}",
            json={"email": "new@example.com", "risk_rating": "high"},
            headers=staff.headers,
        )
    )
    assert changed["email"] == "new@example.com" and changed["risk_rating"] == "high"
    assert changed["name"] == body["name"]
    again = ok(await client.get(f"/v1/customers/{made['id']}", headers=staff.headers))
    assert again == changed
    foreign = await client.patch(
        f"/v1/customers/{made['id']}", json={"registration_number": "HRB 1"},
        headers=staff.headers,
    )  # fmt: skip
    assert foreign.status_code == 400 and foreign.json()["errors"][0]["field"] == (
        "registration_number"
    )

    audit = ok(await client.get("/v1/audit-events", headers=(await make_principal(
        role="owner", tenant_id=staff.tenant_id)).headers))  # fmt: skip
    actions = [e["action"] for e in audit["data"]]
    assert {"banking.customer.created", "banking.customer.kyc_reviewed",
            "banking.customer.updated"} <= set(actions)  # fmt: skip
    assert body["email"] not in str(audit) and "Passport" not in str(audit)


async def test_customers_are_found_by_exact_email_phone_and_tax_id(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="operator")
    first = await customer(client, staff, verified=False)
    second = await customer(client, staff, verified=False)
    for params in (
        {"email": first["email"].upper()},
        {"phone": first["phone"]},
        {"tax_id": first["tax_id"].lower()},
    ):
        found = ok(await client.get("/v1/customers", params=params, headers=staff.headers))
        assert [c["id"] for c in found["data"]] == [first["id"]], params
    nothing = ok(
        await client.get("/v1/customers", params={"email": "x@example.com"}, headers=staff.headers)
    )
    assert nothing["data"] == []
    page = ok(await client.get("/v1/customers", params={"limit": 1}, headers=staff.headers))
    assert [c["id"] for c in page["data"]] == [first["id"]] and page["next_cursor"]
    rest = ok(
        await client.get(
            "/v1/customers", params={"cursor": page["next_cursor"]}, headers=staff.headers
        )
    )
    assert [c["id"] for c in rest["data"]] == [second["id"]] and rest["next_cursor"] is None
    bad = await client.get("/v1/customers", params={"phone": "12"}, headers=staff.headers)
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "phone"


async def test_bad_customer_bodies_are_refused_and_store_nothing(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="operator")
    for body in (
        individual(phone="not a phone"),
        individual(phone="+1 555"),
        individual(email="nope"),
        individual(birth_date=None),
        individual(birth_date=0),
        individual(birth_date="1990-12-10T00:00:00"),
        individual(registration_number=""),
        individual(kind="business"),
        individual(tax_residence="Germany"),
        individual(kind="robot"),
        {**individual(), "extra": 1},
    ):
        response = await client.post("/v1/customers", json=body, headers=staff.headers)
        assert response.status_code == 400, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    business = individual(kind="business", birth_date=None, registration_number="HRB 1234")
    assert (
        await client.post("/v1/customers", json=business, headers=staff.headers)
    ).status_code == 201
    async with db.uow() as uow:
        count = (await uow.session.execute(text("SELECT count(*) FROM banking_customers"))).scalar()
    assert count == 1
    null_name = await client.patch(
        f"/v1/customers/{'0' * 8}-0000-7000-8000-{'0' * 12}", json={"name": None},
        headers=staff.headers,
    )  # fmt: skip
    assert null_name.status_code == 400


async def test_personal_data_is_never_stored_in_plain_text(
    client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="operator")
    body = individual()
    made = await customer(client, staff)
    async with db.uow() as uow:
        rows = (
            (
                await uow.session.execute(
                    text("SELECT to_jsonb(c)::text FROM banking_customers c WHERE id = :id"),
                    {"id": made["id"]},
                )
            )
            .scalars()
            .all()
        )
    raw = "".join(rows)
    assert made["id"] in raw
    for value in (made["name"], made["email"], made["phone"], made["tax_id"], "1990-12-10",
                  made["address"]["line1"], body["email"].split("@")[0]):  # fmt: skip
        assert value not in raw, value
        assert value.encode().hex() not in raw, value
    names = {c.name for c in sealed_columns()}
    assert {"banking_customers.personal_sealed", "banking_customers.kyc_notes_sealed"} <= names


async def test_portal_users_see_only_the_customers_they_are_linked_to(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="operator")
    mine, theirs = await customer(client, staff), await customer(client, staff)
    portal = await make_principal(role="customer", tenant_id=staff.tenant_id)
    analyst = await make_principal(role="analyst", tenant_id=staff.tenant_id)
    refused = await client.put(
        f"/v1/customers/{mine['id']}/users/{analyst.user_id}",
        json={"role": "owner"},
        headers=staff.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["type"].endswith("/customer-user-invalid")
    link = ok(
        await client.put(
            f"/v1/customers/{mine['id']}/users/{portal.user_id}",
            json={"role": "viewer"},
            headers=staff.headers,
        )
    )
    assert link["role"] == "viewer"
    listed = ok(await client.get("/v1/customers", headers=portal.headers))
    assert [c["id"] for c in listed["data"]] == [mine["id"]]
    assert ok(await client.get(f"/v1/customers/{mine['id']}", headers=portal.headers))["id"]
    hidden = await client.get(f"/v1/customers/{theirs['id']}", headers=portal.headers)
    assert hidden.status_code == 404
    found = ok(
        await client.get("/v1/customers", params={"email": theirs["email"]},
                         headers=portal.headers)
    )  # fmt: skip
    assert found["data"] == []
    users = ok(await client.get(f"/v1/customers/{mine['id']}/users", headers=staff.headers))
    assert [u["user_id"] for u in users["data"]] == [str(portal.user_id)]
    forbidden = await client.patch(
        f"/v1/customers/{mine['id']}", json={"risk_rating": "low"}, headers=portal.headers
    )
    assert forbidden.status_code == 403
    gone = await client.delete(
        f"/v1/customers/{mine['id']}/users/{portal.user_id}", headers=staff.headers
    )
    assert gone.status_code == 204
    assert ok(await client.get("/v1/customers", headers=portal.headers))["data"] == []
    again = await client.delete(
        f"/v1/customers/{mine['id']}/users/{portal.user_id}", headers=staff.headers
    )
    assert again.status_code == 404


async def test_another_tenants_customer_is_not_found(
    client: httpx.AsyncClient, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="operator")
    other = await make_principal(role="owner")
    theirs = await customer(client, other)
    for method, path, body in (
        ("GET", f"/v1/customers/{theirs['id']}", None),
        ("PATCH", f"/v1/customers/{theirs['id']}", {"risk_rating": "high"}),
        ("POST", f"/v1/customers/{theirs['id']}/kyc-review", {"status": "rejected"}),
        ("GET", f"/v1/customers/{theirs['id']}/limits", None),
        ("PUT", f"/v1/customers/{theirs['id']}/limits",
         {"channel": "online", "currency": "EUR", "daily_limit": 1, "monthly_limit": 1}),
    ):  # fmt: skip
        response = await client.request(method, path, json=body, headers=staff.headers)
        assert response.status_code == 404, (method, path, response.text)
    still = ok(await client.get(f"/v1/customers/{theirs['id']}", headers=other.headers))
    assert still["kyc"]["status"] == "verified" and still["risk_rating"] == "low"


class _Recorder:
    """Stands in for the request logger (loggers are cached at first configuration, so
    what reaches stderr depends on the suite's order; the calls do not)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []

    def _record(self, event: str, **fields: object) -> None:
        self.calls.append((event, fields))

    info = warning = error = exception = _record


async def test_personal_data_never_reaches_the_logs(
    client: httpx.AsyncClient, make_principal: MakePrincipal, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(http, "log", recorder)
    staff = await make_principal(role="operator")
    body = individual()
    made = await customer(client, staff)
    ok(await client.get("/v1/customers", params={"email": made["email"]}, headers=staff.headers))
    ok(await client.get("/v1/customers", params={"phone": made["phone"]}, headers=staff.headers))
    refused = await client.post(
        "/v1/customers", json={**body, "phone": "+1 555 0100 999"}, headers=staff.headers
    )
    assert refused.status_code == 400 and body["email"] not in refused.text
    routes = [fields.get("route") for event, fields in recorder.calls if event == "request"]
    assert routes.count("/v1/customers") >= 4, "the request log was recorded"
    logged = repr(recorder.calls)
    for value in (made["name"], made["email"], made["phone"], made["tax_id"], body["email"],
                  made["address"]["line1"]):  # fmt: skip
        assert value not in logged, value


async def test_key_rotation_reseals_customers_and_search_still_finds_them(
    app: FastAPI, client: httpx.AsyncClient, db: Database, make_principal: MakePrincipal
) -> None:
    staff = await make_principal(role="operator")
    made = ok(
        await client.post(
            f"/v1/customers/{(await customer(client, staff, verified=False))['id']}/kyc-review",
            json={"status": "verified", "notes": "Utility bill seen"},
            headers=staff.headers,
        )
    )
    ring = app.state.keyring
    before = ring.current_kid
    await keys_rotate(db, ring, wait_s=0)
    assert ring.current_kid != before
    checked = await assert_nothing_stale(db, ring)
    assert {"banking_customers.personal_sealed", "banking_customers.kyc_notes_sealed"} <= set(
        checked
    )
    assert ok(await client.get(f"/v1/customers/{made['id']}", headers=staff.headers)) == made
    found = ok(await client.get("/v1/customers", params={"email": made["email"]},
                                headers=staff.headers))  # fmt: skip
    assert [c["id"] for c in found["data"]] == [made["id"]]
