"""The policy table: every permission, every built-in role, and what each role may do.

This one table drives enforcement (`authorized(...)` checks `Context.permissions`, which
the authenticator fills from here) and the generated permissions page
(`fiscus admin permissions-doc` writes docs/permissions.md; a test keeps it current).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PERMISSION_FORMAT = re.compile(r"^[a-z_]+:[a-z_]+$")
ROLE_NAME_FORMAT = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

# permission -> what it allows, in words for the docs page.
PERMISSIONS: dict[str, str] = {
    "self:read": "Read your own profile, sessions and login history (/v1/me).",
    "self:manage": "Change your own password and MFA, end your own sessions, log out.",
    "users:read": "List the tenant's users and their roles.",
    "users:manage": "Add users to the tenant, change their role, disable them.",
    "users:reset_mfa": "Reset another user's second factors (staff-assisted recovery; needs"
    " your own recent re-authentication).",
    "api_keys:manage": "Create, list and revoke API keys for service accounts.",
    "roles:manage": "Define, change and delete the tenant's custom roles.",
    "tenant:manage": "Change tenant settings: MFA policy, session limits (not the plan).",
    "audit:read": "Read the tenant's audit trail.",
    "ledger_accounts:read": "Read ledger accounts and balances.",
    "ledger_accounts:create": "Open ledger accounts.",
    "ledger_accounts:manage": "Close ledger accounts and change their limits.",
    "transfers:read": "Read transfers and their entries.",
    "transfers:create": "Create transfers (moves money).",
    "transfers:manage": "Post, void and reverse pending transfers.",
    "events:read": "Read the event log.",
    "webhooks:read": "Read webhook endpoints and deliveries.",
    "webhooks:manage": "Create, change and delete webhook endpoints; replay deliveries.",
    "messages:send": "Send announcements and messages.",
    "templates:manage": "Create and change message templates.",
    "messages:read_all": "Read every message's status history (administrators).",
    "customers:read": "Read bank customers (a portal user: only the customers they act for).",
    "customers:manage": "Onboard and change bank customers, review KYC, link portal users,"
    " set outgoing limits.",
    "bank_products:read": "Read deposit products.",
    "bank_products:manage": "Create deposit products.",
    "banking_settings:manage": "Set how the tenant's IBANs are built (country, bank code).",
    "bank_accounts:read": "Read bank accounts, balances and history (a portal user: their own).",
    "bank_accounts:open": "Open bank accounts (a portal user: for customers they own).",
    "bank_accounts:manage": "Freeze, unfreeze and close bank accounts; add and remove joint"
    " holders and set the signing rule.",
    "bank_deposits:create": "Pay cash into bank accounts from the settlement account (moves"
    " money).",
    "bank_transfers:read": "Read bank transfers (a portal user: to or from their accounts).",
    "bank_transfers:create": "Transfer money between bank accounts (a portal user: from"
    " accounts they own).",
    "bank_payees:read": "Read payees (a portal user: those of the customers they act for).",
    "bank_payees:manage": "Add and delete payees (a portal user: for customers they own).",
    "bank_payments:read": "Read outgoing payments (a portal user: their customers').",
    "bank_payments:create": "Pay money out of the bank (a portal user: from accounts they own).",
    "bank_payments:manage": "Release, reject, settle and return outgoing payments; export"
    " pain.001 files; book incoming credits.",
    "fx_rates:read": "Read exchange rates and quote conversions.",
    "bank_alerts:read": "Read account alerts (a portal user: on their customers' accounts).",
    "bank_alerts:manage": "Set and delete account alerts (a portal user: on their customers'"
    " accounts).",
    "fx_rates:manage": "Enter exchange rates and their spreads.",
    "bank_standing_orders:read": "Read standing orders and scheduled transfers (a portal user:"
    " their customers').",
    "bank_standing_orders:manage": "Set up, change, pause, resume and cancel standing orders (a"
    " portal user: from accounts they own).",
    "bank_statements:read": "Download statements, transfer receipts and tax summaries (a portal"
    " user: their customers').",
    "bank_insights:read": "Read spending insights, categories and transactions' categories (a"
    " portal user: of their customers' accounts).",
    "bank_insights:categorise": "Re-categorise a transaction (a portal user: on accounts they"
    " own).",
    "bank_spending_categories:manage": "Add spending categories to the tenant.",
    "bank_spending_rules:read": "Read categorisation rules (a portal user: their customers').",
    "bank_spending_rules:manage": "Add and delete categorisation rules (staff: the tenant's and"
    " customers'; a portal user: for customers they own).",
    "bank_budgets:read": "Read monthly budgets (a portal user: their customers').",
    "bank_budgets:manage": "Set, change and delete monthly budgets (a portal user: for"
    " customers they own).",
    "bank_approvals:read": "Read the approvals joint accounts' payments wait for (a portal"
    " user: on the accounts it sees).",
    "bank_approvals:decide": "Approve or reject a joint account's payment (only a portal"
    " user who owns a signing holder can).",
    "bank_business_date:read": "Read the tenant's banking business date.",
    "bank_business_date:manage": "Advance the tenant's banking business date.",
    "bank_fees:read": "Read the fees charged to bank accounts (a portal user: their own).",
    "bank_fees:reverse": "Give a charged fee back (moves money; audited).",
    "bank_cob:read": "Read close-of-business runs and settings.",
    "bank_cob:run": "Close the business date (accrue and post interest, charge fees, mark"
    " dormant accounts, roll the date) and change close-of-business settings.",
}

SELF = frozenset({"self:read", "self:manage"})
# Permissions of the routes that move money: they require an Idempotency-Key (the API
# conventions), and the OpenAPI document says so on each of them.
MONEY_PERMISSIONS = frozenset(
    {
        "transfers:create",
        "transfers:manage",
        "bank_deposits:create",
        "bank_transfers:create",
        "bank_payments:create",
        "bank_fees:reverse",
    }
)
# What a bank's portal user may do; banking narrows each to the customers they are linked to.
CUSTOMER_PORTAL = frozenset(
    {
        "customers:read",
        "bank_products:read",
        "bank_accounts:read",
        "bank_accounts:open",
        "bank_transfers:read",
        "bank_transfers:create",
        "bank_payees:read",
        "bank_payees:manage",
        "bank_payments:read",
        "bank_payments:create",
        "fx_rates:read",
        "bank_alerts:read",
        "bank_alerts:manage",
        "bank_standing_orders:read",
        "bank_standing_orders:manage",
        "bank_statements:read",
        "bank_insights:read",
        "bank_insights:categorise",
        "bank_spending_rules:read",
        "bank_spending_rules:manage",
        "bank_budgets:read",
        "bank_budgets:manage",
        "bank_fees:read",
        "bank_approvals:read",
        "bank_approvals:decide",
    }
)
ALL = frozenset(PERMISSIONS)
READ = frozenset(p for p in PERMISSIONS if p.endswith(":read"))


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    """A built-in role: its name, what it is for, and its permissions."""

    name: str
    description: str
    permissions: frozenset[str]


BUILTIN_ROLES: dict[str, RoleDefinition] = {
    role.name: role
    for role in (
        RoleDefinition("owner", "Everything, including tenant settings.", ALL),
        RoleDefinition("admin", "Everything except tenant settings.", ALL - {"tenant:manage"}),
        RoleDefinition(
            "operator",
            "Reads everything; opens and manages accounts, moves money, sends messages.",
            READ
            | SELF
            | {
                "ledger_accounts:create",
                "ledger_accounts:manage",
                "transfers:create",
                "transfers:manage",
                "messages:send",
                "customers:manage",
                "bank_accounts:open",
                "bank_accounts:manage",
                "bank_deposits:create",
                "bank_transfers:create",
                "bank_alerts:manage",
                "bank_standing_orders:manage",
                "bank_payees:manage",
                "bank_payments:create",
                "bank_payments:manage",
                "bank_insights:categorise",
                "bank_spending_categories:manage",
                "bank_spending_rules:manage",
                "bank_budgets:manage",
                "bank_fees:reverse",
                "bank_cob:run",
            },
        ),
        RoleDefinition("analyst", "Read-only: every `:read` permission.", READ | SELF),
        RoleDefinition(
            "customer",
            "A bank's portal user: their own profile, and the customers they are linked to"
            " (owner: reads and pays; viewer: reads).",
            SELF | CUSTOMER_PORTAL,
        ),
        RoleDefinition(
            "investor",
            "Only their own profile; object-level access comes with the investments module.",
            SELF,
        ),
    )
}


def builtin_permissions(role: str) -> frozenset[str] | None:
    """The permissions of a built-in role, or None if `role` is not built in."""
    definition = BUILTIN_ROLES.get(role)
    return definition.permissions if definition is not None else None


def unknown_permissions(permissions: set[str] | frozenset[str]) -> list[str]:
    """The names in `permissions` that the policy table does not define, sorted."""
    return sorted(p for p in permissions if p not in PERMISSIONS)


def permissions_markdown() -> str:
    """The permissions page (docs/permissions.md), generated from this table."""
    roles = list(BUILTIN_ROLES.values())
    lines = [
        "# Permissions",
        "",
        "<!-- Generated by `fiscus admin permissions-doc`; do not edit by hand. -->",
        "",
        'Every protected route names one permission (`authorized("resource:action")`).',
        "A request is allowed when the caller's role holds it. Tenants may define custom",
        "roles from these permissions (`/v1/roles`).",
        "",
        "## Built-in roles",
        "",
        "| role | meaning |",
        "|---|---|",
        *(f"| `{r.name}` | {r.description} |" for r in roles),
        "",
        "A customer (a bank's portal user) holds the banking permissions above, narrowed by",
        "the banking module to the customers the user is linked to: every object of another",
        "customer answers 404, and only an owner link may open accounts or pay. Investors hold",
        "only `self:*` until the investments module enforces their object-level access.",
        "",
        "## Permission x role",
        "",
        "| permission | meaning | " + " | ".join(r.name for r in roles) + " |",
        "|---|---|" + "---|" * len(roles),
    ]
    for name, meaning in sorted(PERMISSIONS.items()):
        marks = " | ".join("yes" if name in r.permissions else "" for r in roles)
        lines.append(f"| `{name}` | {meaning} | {marks} |")
    lines.append("")
    return "\n".join(lines)
