"""Dependencies of the identity routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from fiscus.core.http import request_id_var
from fiscus.identity.runtime import Identity
from fiscus.identity.service import Client


def _identity(request: Request) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


def _client(request: Request) -> Client:
    return Client(
        ip=request.client.host if request.client else "unknown",
        user_agent=request.headers.get("user-agent"),
        request_id=request_id_var.get(),
    )


IdentityDep = Annotated[Identity, Depends(_identity)]
ClientDep = Annotated[Client, Depends(_client)]
