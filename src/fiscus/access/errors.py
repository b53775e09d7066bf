"""Errors of the access module."""

from __future__ import annotations

from fiscus.core.errors import Conflict, NotFound, PermissionDenied, ValidationProblem


class TenantNotFound(NotFound):
    """No tenant with this slug or id."""

    type_slug = "tenant-not-found"
    title = "Tenant not found"


class SlugTaken(Conflict):
    """A tenant with this slug already exists."""

    type_slug = "tenant-slug-taken"
    title = "Tenant slug taken"


class RoleNotFound(NotFound):
    """No built-in or custom role with this name in the tenant."""

    type_slug = "role-not-found"
    title = "Role not found"


class RoleInvalid(ValidationProblem):
    """A custom role's name clashes with a built-in role or names unknown permissions."""

    type_slug = "role-invalid"
    title = "Invalid role"


class RoleInUse(Conflict):
    """The custom role is still held by users or API keys."""

    type_slug = "role-in-use"
    title = "Role in use"


class RoleNotGrantable(PermissionDenied):
    """The role is unknown, or holds permissions the caller does not hold."""

    type_slug = "role-not-grantable"
    title = "Role cannot be granted"


class PlanManagedByOperator(PermissionDenied):
    """A tenant's plan (its rate-limit tier) is set by the platform operator, not the tenant."""

    type_slug = "plan-managed-by-operator"
    title = "Plan is managed by the operator"
