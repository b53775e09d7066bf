"""Signed tokens: JWT access tokens (`at+jwt`).

HS256 only (pinned: `alg=none` and RS/HS confusion are refused by construction), keys
from a ring: the first key signs, every key verifies, and `kid` names the key. Keys are
derived from FISCUS_SECRET_KEY (and earlier secrets kept in FISCUS_JWT_PREVIOUS_SECRETS
while their tokens may still be alive), so rotating the secret rotates the signing key.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from fiscus.identity.crypto import derive_key
from fiscus.identity.errors import InvalidToken

ALGORITHM = "HS256"
ACCESS_TYP = "at+jwt"


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """Signing keys by `kid`; `current` signs."""

    current: str
    keys: dict[str, bytes]

    @classmethod
    def from_secrets(cls, secrets: list[str]) -> SigningKeys:
        """The ring for these root secrets, newest first."""
        assert secrets, "a key ring needs at least one secret"
        keys: dict[str, bytes] = {}
        for secret in secrets:
            key = derive_key(secret, "jwt-signing")
            keys.setdefault(hashlib.sha256(b"kid:" + key).hexdigest()[:16], key)
        return cls(current=next(iter(keys)), keys=keys)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What an access token says: user, tenant, session."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    session_id: uuid.UUID


def _encode(ring: SigningKeys, *, typ: str, claims: dict[str, Any]) -> str:
    return jwt.encode(
        claims,
        ring.keys[ring.current],
        algorithm=ALGORITHM,
        headers={"kid": ring.current, "typ": typ},
    )


def _decode(
    ring: SigningKeys,
    token: str,
    *,
    typ: str,
    issuer: str,
    audience: str,
    verify_times: bool = True,
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
        key = ring.keys.get(str(header.get("kid")))
        if key is None or header.get("typ") != typ or header.get("alg") != ALGORITHM:
            raise InvalidToken("The token is not valid.")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require": ["exp", "iat", "nbf", "sub", "tid", "jti"],
                "verify_exp": verify_times,
                "verify_nbf": verify_times,
                "verify_iat": verify_times,
            },
        )
    except jwt.PyJWTError:
        raise InvalidToken("The token is not valid.") from None
    return claims


def access_token_tenant(
    ring: SigningKeys, token: str, *, issuer: str, audience: str
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(tenant, session) of an access token signed by us, expired or not; None for a token
    we did not sign (its claims are the sender's word, so nothing is attributed to them)."""
    try:
        claims = _decode(
            ring, token, typ=ACCESS_TYP, issuer=issuer, audience=audience, verify_times=False
        )
        return uuid.UUID(claims["tid"]), uuid.UUID(claims["sid"])
    except (InvalidToken, KeyError, ValueError, TypeError):
        return None


def access_token_issue(
    ring: SigningKeys,
    *,
    issuer: str,
    audience: str,
    user_id: uuid.UUID,
    tenant_id: uuid.UUID,
    session_id: uuid.UUID,
    now: datetime,
    ttl_s: int,
) -> str:
    """A signed access token for one session."""
    return _encode(
        ring,
        typ=ACCESS_TYP,
        claims={
            "iss": issuer,
            "aud": audience,
            "sub": str(user_id),
            "tid": str(tenant_id),
            "sid": str(session_id),
            "jti": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=ttl_s),
        },
    )


def access_token_verify(
    ring: SigningKeys, token: str, *, issuer: str, audience: str
) -> AccessClaims:
    """The claims of a valid access token, or InvalidToken."""
    claims = _decode(ring, token, typ=ACCESS_TYP, issuer=issuer, audience=audience)
    try:
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            tenant_id=uuid.UUID(claims["tid"]),
            session_id=uuid.UUID(claims["sid"]),
        )
    except (KeyError, ValueError, TypeError):
        raise InvalidToken("The token is not valid.") from None
