"""Who may see what: staff see the tenant's banking objects, portal users only their own.

A portal user is a member with the built-in `customer` role, linked to customers in
`banking_customer_users` (owner: reads and pays; viewer: reads). Every read and write of
a customer, account or transfer is filtered through `scope_customers`, so an object the
caller does not act for answers exactly like one that does not exist (404).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from fiscus.banking.models import BankCustomerUser
from fiscus.core.context import Context

PORTAL_ROLE = "customer"
READ_ROLES = ("owner", "viewer")
PAY_ROLES = ("owner",)


def is_portal(ctx: Context) -> bool:
    """True when the caller is a customer's portal user (object-level checks apply)."""
    return ctx.role == PORTAL_ROLE


def linked_customers(ctx: Context, roles: tuple[str, ...] = READ_ROLES) -> Any:
    """The ids of the customers the portal user acts for with one of `roles` (a subquery)."""
    return select(BankCustomerUser.customer_id).where(
        BankCustomerUser.tenant_id == ctx.tenant_id,
        BankCustomerUser.user_id == ctx.actor_id,
        BankCustomerUser.role.in_(roles),
    )


def scope_customers(
    stmt: Any, column: Any, ctx: Context, roles: tuple[str, ...] = READ_ROLES
) -> Any:
    """`stmt` limited to rows whose `column` (a customer id) the caller may act on."""
    if not is_portal(ctx):
        return stmt
    return stmt.where(column.in_(linked_customers(ctx, roles)))
