"""The Context every service call receives: which tenant, which actor, what they may do.

It sits in core because every module, audit included, receives it;
authentication (`identity.authn`) builds it from a request; modules import it from
`fiscus.access.context`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from fiscus.core.errors import PermissionDenied

ActorType = Literal["user", "api_key", "system"]


@dataclass(frozen=True, slots=True)
class Context:
    """Who is acting, inside exactly one tenant, with which permissions."""

    tenant_id: uuid.UUID
    actor_type: ActorType
    actor_id: uuid.UUID | None
    role: str
    permissions: frozenset[str]
    request_id: str = "-"
    client_ip: str | None = None
    user_agent: str | None = None
    api_key_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def can(self, permission: str) -> bool:
        """True if this actor holds `permission` (`resource:action`)."""
        return permission in self.permissions

    def require(self, permission: str) -> None:
        """Raise PermissionDenied unless this actor holds `permission`."""
        if permission not in self.permissions:
            raise PermissionDenied(f"This action needs the {permission!r} permission.")

    @classmethod
    def system(cls, tenant_id: uuid.UUID, *, permissions: frozenset[str]) -> Context:
        """A Context for background jobs acting inside one tenant."""
        return cls(
            tenant_id=tenant_id,
            actor_type="system",
            actor_id=None,
            role="system",
            permissions=permissions,
        )
