"""ORM-level tenant scoping: the first layer of tenant isolation (RLS is the second).

Tables that mix in `TenantScoped` get `tenant_id = <the unit of work's tenant>` added to
every ORM SELECT, UPDATE and DELETE issued in a tenant-scoped unit of work, through a
`do_orm_execute` hook with `with_loader_criteria`. PostgreSQL row-level security then
refuses other tenants' rows even for raw SQL that forgets the filter.
"""

from __future__ import annotations

import uuid

from sqlalchemy import event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria

# The key under which UnitOfWork stores its tenant in `Session.info`.
TENANT_INFO_KEY = "fiscus_tenant_id"


class TenantScoped:
    """Mixin for tenant-owned tables: ORM statements are filtered to the session's tenant."""

    # Tables redeclare it as part of their primary key; this default lets the criteria
    # lambda below be analysed against the mixin itself.
    tenant_id: Mapped[uuid.UUID] = mapped_column()


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get(TENANT_INFO_KEY)
    if tenant_id is None:
        return
    if state.is_select and (state.is_column_load or state.is_relationship_load):
        return  # the parent statement already carried the criteria
    if not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped,
            lambda cls: cls.tenant_id == tenant_id,
            include_aliases=True,
        )
    )
