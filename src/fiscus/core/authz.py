"""The authorization dependency every protected route uses: `authorized("resource:action")`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request

from fiscus.core.context import Context
from fiscus.core.errors import NotAuthenticated

# Set on `app.state.authenticator` by the identity module: turns a request into a Context
# (bearer token, API key or session cookie) or raises NotAuthenticated.
Authenticator = Callable[[Request], Awaitable[Context]]
# Set on `app.state.on_denied` (optional): records a refused authorisation (audit trail).
DeniedHook = Callable[[Request, Context, str], Awaitable[None]]


def authorized(permission: str) -> Any:
    """`ctx: Annotated[Context, authorized("transfers:create")]` authenticates and checks.

    The permission is kept on the dependency (`__fiscus_permission__`) so the policy matrix
    test can find every route's permission from the app itself. With no authenticator
    installed every request is refused: deny by default.
    """

    async def check(request: Request) -> Context:
        authenticator: Authenticator | None = getattr(request.app.state, "authenticator", None)
        if authenticator is None:
            raise NotAuthenticated("This server has no authentication configured.")
        context = await authenticator(request)
        if not context.can(permission):
            hook: DeniedHook | None = getattr(request.app.state, "on_denied", None)
            if hook is not None:
                await hook(request, context, permission)
            context.require(permission)
        return context

    check.__fiscus_permission__ = permission  # type: ignore[attr-defined]
    return Depends(check)
