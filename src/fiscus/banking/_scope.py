"""Who may see what: staff see the tenant's banking objects, portal users only their own.

A portal user is a member with the built-in `customer` role, linked to customers in
`banking_customer_users` (owner: reads and pays; viewer: reads). Every read and write of
a customer, account or transfer is filtered through `scope_customers` (or, for accounts,
`scope_accounts`), so an object the caller does not act for answers exactly like one
that does not exist (404).

Joint accounts: a portal user linked to any holder of an account (its primary customer,
or a customer in `banking_account_holders`) sees it. It may move money when it is an
owner of a customer that signs for the account: the primary customer, or an `owner` or
`co_owner` holder; a `viewer` holder only reads. Every check reads the tables at the
moment of the request, so a removed holder loses access at once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, exists, or_, select

from fiscus.banking.joint.models import HOLDER_ROLES, SIGNING_ROLES, BankAccountHolder
from fiscus.banking.models import BankAccount, BankCustomerUser
from fiscus.core.context import Context

PORTAL_ROLE = "customer"
READ_ROLES = ("owner", "viewer")
PAY_ROLES = ("owner",)

# Raw-SQL form of "the portal user (the %s parameter) may see account x" for the reads
# that take one round trip: linked to its primary customer or to one of its holders.
ACCOUNT_VISIBLE_SQL = (
    "EXISTS (SELECT 1 FROM banking_customer_users u"
    " WHERE u.tenant_id = x.tenant_id AND u.user_id = %s AND (u.customer_id = x.customer_id"
    " OR EXISTS (SELECT 1 FROM banking_account_holders h WHERE h.tenant_id = x.tenant_id"
    " AND h.account_id = x.id AND h.customer_id = u.customer_id)))"
)


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


def held_accounts(ctx: Context, *, signing: bool = False) -> Any:
    """The ids of the accounts a customer the portal user acts for holds (not as primary);
    `signing`: only as an owner or co-owner holder, the user an owner of it (a subquery)."""
    holder_roles, user_roles = (SIGNING_ROLES, PAY_ROLES) if signing else (HOLDER_ROLES, READ_ROLES)
    return select(BankAccountHolder.account_id).where(
        BankAccountHolder.tenant_id == ctx.tenant_id,
        BankAccountHolder.role.in_(holder_roles),
        BankAccountHolder.customer_id.in_(linked_customers(ctx, user_roles)),
    )


def scope_accounts(
    stmt: Any, account_column: Any, customer_column: Any, ctx: Context, *, signing: bool = False
) -> Any:
    """`stmt` limited to rows of accounts (`account_column`, whose primary customer is
    `customer_column`) the caller may see: a portal user those of any holder it acts for
    (`signing`: those it may move money from)."""
    if not is_portal(ctx):
        return stmt
    primary = linked_customers(ctx, PAY_ROLES if signing else READ_ROLES)
    return stmt.where(
        or_(customer_column.in_(primary), account_column.in_(held_accounts(ctx, signing=signing)))
    )


def _linked(tenant: Any, customer: Any, roles: tuple[str, ...], ctx: Context) -> Any:
    """The portal user is linked to `customer` (of `tenant`) with one of `roles`."""
    return exists().where(
        BankCustomerUser.tenant_id == tenant,
        BankCustomerUser.customer_id == customer,
        BankCustomerUser.user_id == ctx.actor_id,
        BankCustomerUser.role.in_(roles),
    )


def account_portal_role(ctx: Context) -> Any:
    """A column expression over BankAccount: 'owner' when the portal user may move its
    money, 'viewer' when it may only read it, NULL when it does not act for any holder."""

    def access(holder_roles: tuple[str, ...], user_roles: tuple[str, ...]) -> Any:
        via_holder = exists().where(
            BankAccountHolder.tenant_id == BankAccount.tenant_id,
            BankAccountHolder.account_id == BankAccount.id,
            BankAccountHolder.role.in_(holder_roles),
            _linked(BankAccountHolder.tenant_id, BankAccountHolder.customer_id, user_roles, ctx),
        )
        primary = _linked(BankAccount.tenant_id, BankAccount.customer_id, user_roles, ctx)
        return or_(primary, via_holder)

    return case(
        (access(SIGNING_ROLES, PAY_ROLES), "owner"),
        (access(HOLDER_ROLES, READ_ROLES), "viewer"),
        else_=None,
    )
