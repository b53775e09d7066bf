"""The route x role matrix, generated from the OpenAPI document and the policy table.

Every operation in /openapi.json is mapped to its route; its permission comes from its
`authorized(...)` dependency. Each built-in role (and a custom role) calls each route:
a role holding the permission must get past authorisation, any other gets 403. Routes
added by any module join automatically. A route without `authorized(...)` must be
listed in PUBLIC, so nothing becomes public by accident. Another tenant's objects, route
by route: test_cross_tenant.py.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from fiscus.access.policy import BUILTIN_ROLES, PERMISSIONS
from tests.factories import principal, session_headers

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/mfa/verify"),
    ("POST", "/v1/auth/mfa/send"),
    ("POST", "/v1/auth/mfa/passkey/options"),
    ("POST", "/v1/auth/mfa/passkey"),
    ("POST", "/v1/auth/passkey/options"),
    ("POST", "/v1/auth/passkey/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/password-reset"),
    ("POST", "/v1/auth/password-reset/confirm"),
    # RFC 8058 one-click unsubscribe: the signed token in the link is the credential.
    ("POST", "/v1/messaging/unsubscribe"),
}
CUSTOM_ROLE = {
    "name": "auditor",
    "description": "Audit only",
    "permissions": ["audit:read", "self:read", "self:manage"],
}
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _permission_of(route: APIRoute) -> str | None:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        permission = getattr(dependency.call, "__fiscus_permission__", None)
        if permission is not None:
            return str(permission)
        pending.extend(dependency.dependencies)
    return None


def operations(app: FastAPI) -> list[tuple[str, str, str | None]]:
    """(method, path template, permission) for every operation of the OpenAPI document."""
    routes = {
        # Path convertors (`{account_id:uuid}`) do not appear in the OpenAPI paths.
        (method, re.sub(r":[a-z]+}", "}", context.path)): context.route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.route, APIRoute)
        for method in context.route.methods
    }
    found = []
    for path, methods in app.openapi()["paths"].items():
        for method in methods:
            route = routes[(method.upper(), path)]
            found.append((method.upper(), path, _permission_of(route)))
    return sorted(found)


def _fill(path: str, values: dict[str, str] | None = None) -> str:
    values = values or {}
    return _PARAM.sub(
        lambda m: values.get(m.group(1), "zz_none" if m.group(1) == "name" else str(uuid.uuid4())),
        path,
    )


def test_every_route_is_protected_or_listed_public(app) -> None:
    ops = operations(app)
    assert len(ops) > 20
    unprotected = {(m, p) for m, p, permission in ops if permission is None}
    assert unprotected == PUBLIC
    for _, _, permission in ops:
        assert permission is None or permission in PERMISSIONS, permission


async def _call(client, method: str, url: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    return await client.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize("role", [*BUILTIN_ROLES, "auditor"])
async def test_role_matrix_follows_the_policy_table(app, client, role) -> None:
    # Generous budgets: this test is about permissions, not rate limits.
    app.state.identity.config.plan_limits = dict.fromkeys(
        ("free", "standard", "enterprise"), (10**6, 10**6)
    )
    owner = await principal(app, role="owner")
    created = await client.put("/v1/roles/auditor", json=CUSTOM_ROLE, headers=owner.headers)
    assert created.status_code == 200, created.text
    actor = await principal(app, role=role, tenant_id=owner.tenant_id)
    held = (await client.get("/v1/me", headers=actor.headers)).json()["permissions"]
    mismatches = []
    for method, path, permission in operations(app):
        if permission is None:
            continue
        headers, *_ = await session_headers(
            app.state.db, app.state.identity, tenant_id=actor.tenant_id, user_id=actor.user_id
        )
        response = await _call(client, method, _fill(path), headers)
        allowed = permission in held
        ok = (
            (response.status_code not in (401, 403) and response.status_code < 500)
            if allowed
            else response.status_code == 403
        )
        if not ok:
            mismatches.append((method, path, permission, response.status_code, response.text[:200]))
    assert not mismatches, mismatches
