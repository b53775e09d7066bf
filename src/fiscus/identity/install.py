"""Wires identity into the app: state, authenticator, denial hook, rate-limit middleware."""

from __future__ import annotations

from fastapi import FastAPI

from fiscus.core.config import Settings
from fiscus.identity.authn import authenticate, record_denied
from fiscus.identity.config import IdentityConfig
from fiscus.identity.ratelimit import RateLimitMiddleware
from fiscus.identity.runtime import identity_build


def install_identity(
    app: FastAPI, settings: Settings, config: IdentityConfig | None = None
) -> None:
    """Install authentication on `app`; call before the request middleware is added."""
    app.state.identity = identity_build(settings, app.state.keyring, config)
    app.state.authenticator = authenticate
    app.state.on_denied = record_denied
    app.add_middleware(RateLimitMiddleware)
