"""Single-use rows found by a token's hash: MFA challenges, reset tokens, email changes.

Each is claimed with its row locked (so two concurrent uses are serialised and the second
finds it spent), refused once used, expired or out of attempts, and ended in bulk when a
newer one supersedes it.
"""

from __future__ import annotations

import uuid
from typing import TypeVar

from sqlalchemy import select, update

from fiscus.core import clock
from fiscus.core.db import UnitOfWork
from fiscus.identity.crypto import token_hash
from fiscus.identity.errors import InvalidToken
from fiscus.identity.models import EmailChange, MfaChallenge, PasswordResetToken

Attempted = TypeVar("Attempted", MfaChallenge, PasswordResetToken)
OneTime = TypeVar("OneTime", MfaChallenge, PasswordResetToken, EmailChange)


async def one_time_claim(
    uow: UnitOfWork, model: type[Attempted], *, token: str, max_attempts: int, refused: str
) -> Attempted:
    """The live row of `token`, locked; InvalidToken(refused) if used, expired or spent."""
    row = (
        await uow.session.execute(
            select(model).where(model.token_hash == token_hash(token)).with_for_update()
        )
    ).scalar()
    if (
        row is None
        or row.used_at is not None
        or row.expires_at <= clock.now()
        or row.attempts >= max_attempts
    ):
        raise InvalidToken(refused)
    return row


async def one_time_attempt_failed(uow: UnitOfWork, model: type[Attempted], *, token: str) -> None:
    """Count a wrong code sent with `token` (in its own transaction: the failed one rolled
    back)."""
    await uow.session.execute(
        update(model)
        .where(model.token_hash == token_hash(token))
        .values(attempts=model.attempts + 1)
    )


async def one_time_end_all(
    uow: UnitOfWork, model: type[OneTime], *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """End every live row of the account (a newer one supersedes them, or one was used)."""
    assert uow.active
    await uow.session.execute(
        update(model)
        .where(model.tenant_id == tenant_id, model.user_id == user_id, model.used_at.is_(None))
        .values(used_at=clock.now())
    )
