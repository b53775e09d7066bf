"""Who receives an event's messages: a resolver registry, and the user directory port.

Each module registers a resolver for the event types it emits (`transfer.*` -> the
account holders named in the payload). Names, e-mail addresses and role membership
belong to identity/access; messaging reads them through the `Directory` port, which the
worker wires to identity's queries, so messaging never reads another module's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fiscus.core.db import UnitOfWork
from fiscus.core.events import RelayedEvent, type_matches


@dataclass(frozen=True, slots=True)
class Contact:
    """What messaging needs to know about a user."""

    user_id: uuid.UUID
    email: str | None
    display_name: str | None = None


class Directory(Protocol):
    """Read access to users and memberships (implemented by identity/access)."""

    async def contacts(
        self, uow: UnitOfWork, *, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Contact]:
        """Active members of the tenant among `user_ids`, with their addresses."""
        ...

    async def members(
        self, uow: UnitOfWork, *, tenant_id: uuid.UUID, roles: Sequence[str] | None
    ) -> list[uuid.UUID]:
        """Active members of the tenant, optionally only those holding one of `roles`."""
        ...


@dataclass(frozen=True, slots=True)
class Recipient:
    """A user to tell, with template variables specific to them (e.g. their leg).

    `address` sends the message of `channel` to that address instead of the user's current
    one (the confirmation of an email change goes to the new address, a second-factor code
    to the factor's address or number).
    """

    user_id: uuid.UUID
    variables: dict[str, Any] = field(default_factory=dict)
    address: str | None = None
    channel: str = "email"


Resolver = Callable[[UnitOfWork, RelayedEvent, Directory | None], Awaitable[list[Recipient]]]
_resolvers: list[tuple[str, Resolver]] = []
_directory: list[Directory] = []
ADMIN_ROLES = ("owner", "admin")


def register_resolver(pattern: str, resolver: Resolver) -> None:
    """Use `resolver` for event types matching `pattern` (first registration wins)."""
    if all(existing != pattern for existing, _ in _resolvers):
        _resolvers.append((pattern, resolver))


def install_directory(directory: Directory | None) -> None:
    """Set (or, with None, remove) the user directory; the worker sets it at start."""
    _directory[:] = [directory] if directory is not None else []


def directory() -> Directory | None:
    """The installed directory, if any."""
    return _directory[0] if _directory else None


async def recipients_resolve(uow: UnitOfWork, event: RelayedEvent) -> list[Recipient]:
    """The recipients of `event` according to the first matching resolver."""
    for pattern, resolver in _resolvers:
        if type_matches([pattern], event.type):
            return await resolver(uow, event, directory())
    return []


def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


async def transfer_holders(
    uow: UnitOfWork, event: RelayedEvent, _directory: Directory | None
) -> list[Recipient]:
    """`transfer.*`: the holder of each touched account (the ledger puts them in the legs)."""
    found: dict[uuid.UUID, Recipient] = {}
    legs = event.payload.get("legs") or []
    for leg in legs if isinstance(legs, list) else []:
        if isinstance(leg, dict) and (user := _uuid(leg.get("holder_user_id"))) is not None:
            found.setdefault(user, Recipient(user, {"leg": leg}))
    if (user := _uuid(event.payload.get("holder_user_id"))) is not None and user not in found:
        found[user] = Recipient(user, {"leg": event.payload})
    return list(found.values())


async def tenant_admins(
    uow: UnitOfWork, event: RelayedEvent, directory_: Directory | None
) -> list[Recipient]:
    """Events for the people who run the tenant (owners and admins)."""
    if directory_ is None:
        return []
    users = await directory_.members(uow, tenant_id=event.tenant_id, roles=ADMIN_ROLES)
    return [Recipient(u) for u in users]


async def audience(
    uow: UnitOfWork, event: RelayedEvent, directory_: Directory | None
) -> list[Recipient]:
    """Announcements and campaigns: listed users, else the members (of some roles)."""
    listed = event.payload.get("user_ids")
    if isinstance(listed, list):
        return [Recipient(u) for u in (_uuid(v) for v in listed) if u is not None]
    if directory_ is None:
        return []
    roles = event.payload.get("roles")
    users = await directory_.members(
        uow, tenant_id=event.tenant_id, roles=roles if isinstance(roles, list) else None
    )
    return [Recipient(u) for u in users]


async def payload_user(
    uow: UnitOfWork, event: RelayedEvent, _directory: Directory | None
) -> list[Recipient]:
    """Events about one user (a password reset): the `user_id` in the payload."""
    user = _uuid(event.payload.get("user_id"))
    return [Recipient(user)] if user is not None else []


def install_builtin_resolvers() -> None:
    """The resolvers for event types messaging itself knows about."""
    register_resolver("transfer.*", transfer_holders)
    register_resolver("user.password_reset_requested", payload_user)
    register_resolver("webhook.endpoint_disabled", tenant_admins)
    register_resolver("webhook.delivery_exhausted", tenant_admins)
    register_resolver("announcement.published", audience)
    register_resolver("marketing.campaign_sent", audience)
    # Alerts name the account customer's portal users in `user_ids` (banking resolves them
    # when the alert fires, from its own tables).
    register_resolver("banking.alert.triggered", audience)
    # A closed monthly statement names the customer's portal users the same way.
    register_resolver("banking.statement.ready", audience)
    register_resolver("banking.budget.threshold_crossed", audience)
    # A standing order that failed for good names them the same way.
    register_resolver("banking.standing_order.failed", audience)
