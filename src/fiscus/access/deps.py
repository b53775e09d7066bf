"""The authorization dependency every protected route uses: `authorized("resource:action")`.

It lives in `core.authz` so that audit's routes can use it without importing access;
this is the name modules use.
"""

from __future__ import annotations

from fiscus.core.authz import Authenticator, DeniedHook, authorized

__all__ = ["Authenticator", "DeniedHook", "authorized"]
