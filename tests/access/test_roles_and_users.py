"""Custom roles, tenant settings, user management and the generated permissions page."""

from __future__ import annotations

from pathlib import Path

from fiscus.access.policy import (
    BUILTIN_ROLES,
    CUSTOMER_PORTAL,
    PERMISSIONS,
    READ,
    permissions_markdown,
)

ROOT = Path(__file__).resolve().parents[2]


def test_permissions_page_is_current() -> None:
    page = (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8")
    assert page == permissions_markdown(), "run `fiscus admin permissions-doc`"


def test_builtin_roles_follow_the_brief() -> None:
    assert BUILTIN_ROLES["owner"].permissions == frozenset(PERMISSIONS)
    assert BUILTIN_ROLES["admin"].permissions == frozenset(PERMISSIONS) - {"tenant:manage"}
    assert BUILTIN_ROLES["analyst"].permissions == READ | {"self:read", "self:manage"}
    assert all(p.endswith(":read") for p in BUILTIN_ROLES["analyst"].permissions - {"self:manage"})
    assert BUILTIN_ROLES["investor"].permissions == {"self:read", "self:manage"}
    # A bank's portal user: banking narrows each permission to the customers it is linked
    # to (tests/banking/test_portal_access.py); nothing of the tenant's administration.
    assert BUILTIN_ROLES["customer"].permissions == {"self:read", "self:manage"} | CUSTOMER_PORTAL
    assert all(
        p.split(":")[0]
        in {
            "customers",
            "bank_products",
            "bank_accounts",
            "bank_transfers",
            "fx_rates",
            "bank_alerts",
            "bank_standing_orders",
            "bank_payees",
            "bank_payments",
            "bank_statements",
            "bank_insights",
            "bank_spending_rules",
            "bank_budgets",
            "bank_fees",
            "bank_approvals",
        }
        for p in CUSTOMER_PORTAL
    )
    assert {"transfers:create", "messages:send"} <= BUILTIN_ROLES["operator"].permissions
    assert "users:manage" not in BUILTIN_ROLES["operator"].permissions
    assert all(
        ":" in p and {"self:read", "self:manage"} <= r.permissions
        for r in BUILTIN_ROLES.values()
        for p in r.permissions
    )


async def test_custom_role_lifecycle(client, make_principal) -> None:
    owner = await make_principal()
    body = {
        "name": "auditor",
        "description": "Audit only",
        "permissions": ["audit:read", "self:read"],
    }
    assert (
        await client.put("/v1/roles/auditor", json=body, headers=owner.headers)
    ).status_code == 200
    bad = {**body, "permissions": ["audit:read", "moon:land"]}
    assert (
        await client.put("/v1/roles/auditor", json=bad, headers=owner.headers)
    ).status_code == 400
    builtin = {**body, "name": "admin"}
    assert (
        await client.put("/v1/roles/admin", json=builtin, headers=owner.headers)
    ).status_code == 400
    added = await client.post(
        "/v1/users",
        headers=owner.headers,
        json={"email": "aud@example.com", "role": "auditor", "password": "auditor password 1"},
    )
    assert added.status_code == 201, added.text
    in_use = await client.delete("/v1/roles/auditor", headers=owner.headers)
    assert in_use.status_code == 409
    roles = await client.get("/v1/roles", headers=owner.headers)
    assert [r["name"] for r in roles.json() if not r["builtin"]] == ["auditor"]
    login = await client.post(
        "/v1/auth/login",
        json={
            "tenant": owner.tenant_slug,
            "email": "aud@example.com",
            "password": "auditor password 1",
        },
    )
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await client.get("/v1/audit-events", headers=auth)).status_code == 200
    assert (await client.get("/v1/users", headers=auth)).status_code == 403


async def test_the_same_address_in_a_second_tenant_is_a_second_account(client, make_principal):
    a = await make_principal()
    b = await make_principal()
    body = {"email": a.email, "role": "analyst", "password": "a different password"}
    added = await client.post("/v1/users", headers=b.headers, json=body)
    assert added.status_code == 201
    assert added.json()["id"] != str(a.user_id)
    again = await client.post("/v1/users", headers=b.headers, json=body)
    assert again.status_code == 409
    as_b = {"tenant": b.tenant_slug, "email": a.email}
    assert (
        await client.post("/v1/auth/login", json={**as_b, "password": a.password})
    ).status_code == 401
    login = await client.post("/v1/auth/login", json={**as_b, "password": body["password"]})
    assert login.status_code == 200
    users_of_a = await client.get("/v1/users", headers=a.headers)
    assert [u["id"] for u in users_of_a.json()["data"]] == [str(a.user_id)]


async def test_only_owners_manage_the_tenant(client, make_principal) -> None:
    owner = await make_principal(role="owner")
    admin = await make_principal(role="admin", tenant_id=owner.tenant_id)
    assert (await client.get("/v1/tenant", headers=admin.headers)).status_code == 403
    tenant = await client.get("/v1/tenant", headers=owner.headers)
    assert tenant.json()["slug"] == owner.tenant_slug
    bad = await client.put(
        "/v1/tenant/settings", json={"mfa_required_roles": ["wizard"]}, headers=owner.headers
    )
    assert bad.status_code == 404


async def test_the_plan_is_the_operators_not_the_tenants(client, make_principal) -> None:
    # The plan sets the tenant's rate limits: an owner raising its own would lift them.
    owner = await make_principal(role="owner")  # the factory's tenants are on "enterprise"
    raise_own = await client.put(
        "/v1/tenant/settings",
        json={"plan": "free", "max_sessions_per_user": 3},
        headers=owner.headers,
    )
    assert raise_own.status_code == 403
    assert raise_own.json()["type"].endswith("/plan-managed-by-operator")
    unchanged = (await client.get("/v1/tenant", headers=owner.headers)).json()["settings"]
    assert unchanged["plan"] == "enterprise"
    assert unchanged["max_sessions_per_user"] is None
    # Leaving the plan out, or sending the current one, keeps it.
    for body in ({"max_sessions_per_user": 3}, {"plan": "enterprise", "max_sessions_per_user": 4}):
        kept = await client.put("/v1/tenant/settings", json=body, headers=owner.headers)
        assert kept.status_code == 200, kept.text
        assert kept.json()["plan"] == "enterprise"
        assert kept.json()["max_sessions_per_user"] == body["max_sessions_per_user"]
