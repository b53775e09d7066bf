"""JWT forgery suite and key rotation: every forged or misused token is a 401."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fiscus.core import clock
from fiscus.identity.tokens import SigningKeys, access_token_issue, access_token_verify
from tests.conftest import make_settings


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _hs256_raw(key: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """HS256 by hand: PyJWT itself refuses to use a PEM public key as an HMAC secret."""
    import hashlib
    import hmac

    signing_input = _b64(header) + "." + _b64(claims)
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _claims(p, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "iss": "fiscus",
        "aud": "fiscus-api",
        "sub": str(p.user_id),
        "tid": str(p.tenant_id),
        "sid": str(p.session_id),
        "jti": "x",
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=15),
    }
    claims.update(changes)
    return claims


def _sign(app, claims: dict[str, Any], **header: Any) -> str:
    ring: SigningKeys = app.state.identity.ring
    headers = {"kid": ring.current, "typ": "at+jwt", **header}
    return jwt.encode(claims, ring.keys[ring.current], algorithm="HS256", headers=headers)


def _forgeries(app, p) -> dict[str, str]:
    ring: SigningKeys = app.state.identity.ring
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = attacker.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = _claims(p)
    plain = {k: (int(v.timestamp()) if isinstance(v, datetime) else v) for k, v in claims.items()}
    return {
        "alg_none": _b64({"alg": "none", "typ": "at+jwt", "kid": ring.current})
        + "."
        + _b64(plain)
        + ".",
        "rs256_attacker_key": jwt.encode(
            claims, attacker, algorithm="RS256", headers={"kid": ring.current, "typ": "at+jwt"}
        ),
        "hs256_with_public_key": _hs256_raw(
            public_pem, {"alg": "HS256", "kid": ring.current, "typ": "at+jwt"}, plain
        ),
        "hs512_right_key": jwt.encode(
            claims,
            ring.keys[ring.current],
            algorithm="HS512",
            headers={"kid": ring.current, "typ": "at+jwt"},
        ),
        "expired": _sign(app, _claims(p, exp=datetime.now(UTC) - timedelta(seconds=5))),
        "future_nbf": _sign(app, _claims(p, nbf=datetime.now(UTC) + timedelta(minutes=5))),
        "wrong_aud": _sign(app, _claims(p, aud="someone-else")),
        "wrong_iss": _sign(app, _claims(p, iss="evil")),
        "wrong_typ": _sign(app, claims, typ="JWT"),
        "no_typ": jwt.encode(
            claims, ring.keys[ring.current], algorithm="HS256", headers={"kid": ring.current}
        ),
        "unknown_kid": _sign(app, claims, kid="0123456789abcdef"),
        "wrong_secret": jwt.encode(
            claims, b"x" * 32, algorithm="HS256", headers={"kid": ring.current, "typ": "at+jwt"}
        ),
        "other_tenant_claim": _sign(app, _claims(p, tid="01900000-0000-7000-8000-000000000009")),
        "missing_sid": _sign(app, {k: v for k, v in claims.items() if k != "sid"}),
        "refresh_token_as_access": p.refresh_token,
        "garbage": "not.a.jwt",
    }


FORGERIES = [
    "alg_none",
    "rs256_attacker_key",
    "hs256_with_public_key",
    "hs512_right_key",
    "expired",
    "future_nbf",
    "wrong_aud",
    "wrong_iss",
    "wrong_typ",
    "no_typ",
    "unknown_kid",
    "wrong_secret",
    "other_tenant_claim",
    "missing_sid",
    "refresh_token_as_access",
    "garbage",
]


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("kind", FORGERIES)
async def test_forged_or_misused_tokens_are_401(app, client, make_principal, kind) -> None:
    p = await make_principal()
    assert (await client.get("/v1/me", headers=p.headers)).status_code == 200
    token = _forgeries(app, p)[kind]
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, (kind, response.text)
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_genuine_token_with_the_same_claims_passes(app, client, make_principal) -> None:
    p = await make_principal()
    token = _sign(app, _claims(p))
    assert (
        await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200


def test_kid_is_derived_from_the_secret_and_rotation_keeps_old_tokens_valid() -> None:
    old_secret, new_secret = "o" * 40, "n" * 40
    old_ring = SigningKeys.from_secrets([old_secret])
    rotated = SigningKeys.from_secrets([new_secret, old_secret])
    assert SigningKeys.from_secrets([old_secret]).current == old_ring.current  # deterministic
    assert rotated.current != old_ring.current
    assert set(rotated.keys) == {rotated.current, old_ring.current}
    ids = {"user_id": clock_uuid(1), "tenant_id": clock_uuid(2), "session_id": clock_uuid(3)}
    old_token = access_token_issue(
        old_ring, issuer="fiscus", audience="fiscus-api", now=clock.now(), ttl_s=60, **ids
    )
    claims = access_token_verify(rotated, old_token, issuer="fiscus", audience="fiscus-api")
    assert claims.session_id == ids["session_id"]
    new_token = access_token_issue(
        rotated, issuer="fiscus", audience="fiscus-api", now=clock.now(), ttl_s=60, **ids
    )
    assert jwt.get_unverified_header(new_token)["kid"] == rotated.current
    from fiscus.identity.errors import InvalidToken

    with pytest.raises(InvalidToken):
        access_token_verify(old_ring, new_token, issuer="fiscus", audience="fiscus-api")


def clock_uuid(n: int):
    import uuid

    return uuid.UUID(int=n)


@pytest.mark.parametrize("variable", ["FISCUS_PREVIOUS_SECRET_KEYS", "FISCUS_JWT_PREVIOUS_SECRETS"])
def test_previous_secrets_come_from_the_environment(monkeypatch, variable: str) -> None:
    from fiscus.core.keyring import KeyRing
    from fiscus.identity.runtime import identity_build

    monkeypatch.setenv(variable, json.dumps(["p" * 40]))
    settings = make_settings(None)
    identity = identity_build(settings, KeyRing(settings.root_secrets))
    assert len(identity.ring.keys) == 2
    assert (
        identity.ring.current
        == SigningKeys.from_secrets([make_settings(None).resolved_secret_key]).current
    )
