"""The user directory backed by identity's queries (users, their e-mail, role and status)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fiscus.access.context import Context
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.errors import NotFound
from fiscus.identity.queries import user_get, users_list
from fiscus.messaging._recipients import Contact

MAX_CONTACTS = 100
MAX_MEMBER_PAGES = 50
PAGE = 200


class IdentityDirectory:
    """Reads users through identity's query functions, inside the tenant (RLS applies).

    Identity's queries open their own short transactions, so the relay's transaction is
    not used here (`uow` is part of the port for directories that can share it).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _context(tenant_id: uuid.UUID) -> Context:
        return Context.system(tenant_id, permissions=frozenset({"users:read"}))

    async def contacts(
        self, uow: UnitOfWork, *, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Contact]:
        """Active members among `user_ids` with their e-mail addresses."""
        ctx = self._context(tenant_id)
        found: dict[uuid.UUID, Contact] = {}
        for user_id in list(dict.fromkeys(user_ids))[:MAX_CONTACTS]:
            try:
                user = await user_get(self.db, ctx=ctx, user_id=user_id)
            except NotFound:
                continue
            if user.status == "active":
                found[user_id] = Contact(user_id, user.email, user.display_name)
        return found

    async def members(
        self, uow: UnitOfWork, *, tenant_id: uuid.UUID, roles: Sequence[str] | None
    ) -> list[uuid.UUID]:
        """Active members of the tenant, optionally only those holding one of `roles`."""
        ctx = self._context(tenant_id)
        members: list[uuid.UUID] = []
        cursor: str | None = None
        for _ in range(MAX_MEMBER_PAGES):
            page, cursor = await users_list(self.db, ctx=ctx, limit=PAGE, cursor=cursor)
            members.extend(
                uuid.UUID(u.id)
                for u in page
                if u.status == "active" and (roles is None or u.role in roles)
            )
            if cursor is None:
                break
        return members
