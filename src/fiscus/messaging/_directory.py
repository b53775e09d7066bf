"""The user directory backed by identity's queries (accounts, their e-mail, role and status).

Accounts are per tenant and their email and name are sealed with the key ring, so the
directory holds the key ring to have identity open them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from fiscus.access.context import Context
from fiscus.core.db import Database, UnitOfWork
from fiscus.core.events import RelayedEvent
from fiscus.core.keyring import KeyRing
from fiscus.identity.queries import (
    email_change_address,
    factor_code_address,
    user_contacts,
    users_list,
)
from fiscus.messaging._recipients import Contact, Directory, Recipient

MAX_MEMBER_PAGES = 50
PAGE = 200


class IdentityDirectory:
    """Reads users through identity's query functions, inside the tenant (RLS applies).

    Identity's queries open their own short transactions, so the relay's transaction is
    not used here (`uow` is part of the port for directories that can share it).
    """

    def __init__(self, db: Database, keyring: KeyRing) -> None:
        self.db = db
        self.keyring = keyring

    async def contacts(
        self, uow: UnitOfWork, *, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Contact]:
        """Active members among `user_ids` with their e-mail addresses."""
        found = await user_contacts(self.db, self.keyring, tenant_id=tenant_id, user_ids=user_ids)
        return {u: Contact(u, c.email, c.display_name) for u, c in found.items()}

    async def members(
        self, uow: UnitOfWork, *, tenant_id: uuid.UUID, roles: Sequence[str] | None
    ) -> list[uuid.UUID]:
        """Active members of the tenant, optionally only those holding one of `roles`."""
        ctx = Context.system(tenant_id, permissions=frozenset({"users:read"}))
        members: list[uuid.UUID] = []
        cursor: str | None = None
        for _ in range(MAX_MEMBER_PAGES):
            page, cursor = await users_list(
                self.db, self.keyring, ctx=ctx, limit=PAGE, cursor=cursor
            )
            members.extend(
                uuid.UUID(u.id)
                for u in page
                if u.status == "active" and (roles is None or u.role in roles)
            )
            if cursor is None:
                break
        return members


async def email_change_recipient(
    uow: UnitOfWork, event: RelayedEvent, directory_: Directory | None
) -> list[Recipient]:
    """`user.email_change_requested`: the account, reached at the NEW address (the mail
    proves the address is theirs); nobody once the change is used or expired."""
    if not isinstance(directory_, IdentityDirectory):
        return []
    try:
        change_id = uuid.UUID(str(event.payload.get("change_id")))
    except ValueError:
        return []
    found = await email_change_address(
        directory_.db, directory_.keyring, tenant_id=event.tenant_id, change_id=change_id
    )
    if found is None:
        return []
    user_id, address = found
    return [Recipient(user_id, address=address)]


async def factor_code_recipient(
    uow: UnitOfWork, event: RelayedEvent, directory_: Directory | None
) -> list[Recipient]:
    """`user.mfa_*_code_requested`: the account, at the factor's own address or number
    (enrolment proves it); nobody once the code is used, expired or replaced."""
    if not isinstance(directory_, IdentityDirectory):
        return []
    try:
        factor_id = uuid.UUID(str(event.payload.get("factor_id")))
    except ValueError:
        return []
    found = await factor_code_address(
        directory_.db, directory_.keyring, tenant_id=event.tenant_id, factor_id=factor_id
    )
    if found is None:
        return []
    user_id, kind, address = found
    return [Recipient(user_id, address=address, channel=kind)]
