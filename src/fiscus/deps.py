"""FastAPI dependency aliases, in one place (STYLE rule 15).

The providers are `async def` on purpose: FastAPI runs plain `def` dependencies in its
thread pool, which cost more per request than everything else the ledger route does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.idempotency import IdempotencyStore
from fiscus.core.keyring import KeyRing


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _idempotency(request: Request) -> IdempotencyStore:
    store: IdempotencyStore = request.app.state.idempotency
    return store


async def _keyring(request: Request) -> KeyRing:
    keyring: KeyRing = request.app.state.keyring
    return keyring


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_database)]
IdempotencyDep = Annotated[IdempotencyStore, Depends(_idempotency)]
KeyRingDep = Annotated[KeyRing, Depends(_keyring)]
