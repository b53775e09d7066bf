"""Tenant isolation in depth: the ORM criteria hook, and row-level security under it."""

from __future__ import annotations

from sqlalchemy import func, select, text

from fiscus.identity.models import ApiKey, AuthSession


async def _two_tenants_with_sessions(make_principal):
    a = await make_principal()
    b = await make_principal()
    return a, b


async def test_raw_sql_without_a_tenant_filter_sees_only_the_current_tenant(
    app, make_principal
) -> None:
    a, _ = await _two_tenants_with_sessions(make_principal)
    db = app.state.db
    async with db.uow() as uow:  # the owner role: every tenant
        everything = (
            await uow.session.execute(text("SELECT count(*) FROM auth_sessions"))
        ).scalar()
    assert everything == 2
    async with db.uow(tenant_id=a.tenant_id) as uow:
        rows = (await uow.session.execute(text("SELECT tenant_id FROM auth_sessions"))).all()
        users = (await uow.session.execute(text("SELECT id FROM users"))).all()
    assert [r[0] for r in rows] == [a.tenant_id]
    assert [r[0] for r in users] == [a.user_id]


async def test_rls_refuses_writing_another_tenants_rows(app, make_principal) -> None:
    a, b = await _two_tenants_with_sessions(make_principal)
    async with app.state.db.uow(tenant_id=a.tenant_id) as uow:
        result = await uow.session.execute(
            text("UPDATE auth_sessions SET revoked_at = now() WHERE tenant_id = :b"),
            {"b": b.tenant_id},
        )
        assert result.rowcount == 0
        updated = await uow.session.execute(
            text("UPDATE users SET status = 'disabled' WHERE id = :u"), {"u": b.user_id}
        )
        assert updated.rowcount == 0


async def test_orm_hook_filters_even_without_rls(app, make_principal) -> None:
    a, _ = await _two_tenants_with_sessions(make_principal)
    async with app.state.db.uow(tenant_id=a.tenant_id) as uow:
        # Step out of the RLS role: only the ORM criteria hook is left.
        await uow.session.execute(text("RESET ROLE"))
        raw = (await uow.session.execute(text("SELECT count(*) FROM auth_sessions"))).scalar()
        orm = (await uow.session.execute(select(func.count()).select_from(AuthSession))).scalar()
        tenants = (await uow.session.execute(select(AuthSession.tenant_id))).scalars().all()
        keys = (await uow.session.execute(select(ApiKey))).scalars().all()
    assert raw == 2
    assert tenants == [a.tenant_id]
    assert keys == []
    assert orm == 1  # select_from(entity) is filtered as well


async def test_orm_update_is_scoped_too(app, make_principal) -> None:
    from sqlalchemy import update

    a, b = await _two_tenants_with_sessions(make_principal)
    async with app.state.db.uow(tenant_id=a.tenant_id) as uow:
        await uow.session.execute(text("RESET ROLE"))
        result = await uow.session.execute(update(AuthSession).values(revoked_reason="hook-test"))
        assert result.rowcount == 1
    async with app.state.db.uow() as uow:
        reasons = dict(
            (
                await uow.session.execute(select(AuthSession.tenant_id, AuthSession.revoked_reason))
            ).all()
        )
    assert reasons == {a.tenant_id: "hook-test", b.tenant_id: None}
