"""TOTP secrets re-sealed with the key ring; backup codes hashed with its index key.

Until now a TOTP secret was AES-GCM `nonce | ciphertext` under a key derived from the root
secret alone (`HKDF(root, info="totp-secret-seal")`, the user id as associated data), so
rotating `FISCUS_SECRET_KEY` made every TOTP login fail. Each one is opened with the
configured root secrets (current first, then FISCUS_PREVIOUS_SECRET_KEYS) and sealed with
the key ring, bound to its row (`users.totp_secret_sealed`, tenant, user): after 0103 the
same user id exists once per tenant, and each copy gets its own sealed value.

Backup codes are now `lookup_hash(code, purpose="mfa-backup-code")` under the key ring's
index key, which is never replaced. Existing codes are HMACs under a root-derived key and
cannot be converted (only their hashes are stored): they are kept, flagged `legacy_hash`,
and still accepted by identity while the root secret that made them is configured (current
or previous); regenerating backup codes replaces them (docs/identity.md).

Revision ID: 0105
Revises: 0104
Create Date: 2026-11-30
"""

import os
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fiscus.core.keyring import KeyRing, context_of
from fiscus.core.migrate import migration_keyring

revision: str = "0105"
down_revision: str | Sequence[str] | None = "0104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0005"

LEGACY_NONCE_BYTES = 12


def _legacy_key(root: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"fiscus", info=b"totp-secret-seal"
    ).derive(root.encode())
    return AESGCM(derived)


def _legacy_open(roots: Sequence[str], sealed: bytes, user_id: uuid.UUID) -> bytes:
    for root in roots:
        try:
            return _legacy_key(root).decrypt(
                sealed[:LEGACY_NONCE_BYTES], sealed[LEGACY_NONCE_BYTES:], user_id.bytes
            )
        except InvalidTag:
            continue
    raise RuntimeError(
        f"The TOTP secret of user {user_id} does not open with FISCUS_SECRET_KEY or any of "
        "FISCUS_PREVIOUS_SECRET_KEYS; configure the secret this database was written with."
    )


def _context(tenant_id: uuid.UUID, user_id: uuid.UUID) -> bytes:
    return context_of("users.totp_secret_sealed", tenant_id, user_id)


def _totp_rows(connection: sa.Connection) -> list[sa.Row[tuple[uuid.UUID, uuid.UUID, bytes]]]:
    return list(
        connection.execute(
            sa.text(
                "SELECT tenant_id, id, totp_secret_sealed FROM users"
                " WHERE totp_secret_sealed IS NOT NULL ORDER BY tenant_id, id"
            )
        ).all()
    )


UPDATE_TOTP = sa.text("UPDATE users SET totp_secret_sealed = :s WHERE tenant_id = :t AND id = :i")


def upgrade() -> None:
    connection = op.get_bind()
    rows = _totp_rows(connection)
    if rows:
        ring: KeyRing = migration_keyring(connection)
        connection.execute(
            UPDATE_TOTP,
            [
                {
                    "t": t,
                    "i": i,
                    "s": ring.seal(_legacy_open(ring.roots, bytes(s), i), context=_context(t, i)),
                }
                for t, i, s in rows
            ],
        )
    op.add_column("mfa_backup_codes", sa.Column("legacy_hash", sa.Boolean(), nullable=True))
    op.execute("UPDATE mfa_backup_codes SET legacy_hash = true")
    op.alter_column("mfa_backup_codes", "legacy_hash", nullable=False)


def downgrade() -> None:
    connection = op.get_bind()
    rows = _totp_rows(connection)
    if rows:
        ring = migration_keyring(connection)
        sealed = []
        for t, i, s in rows:
            secret = ring.open(bytes(s), context=_context(t, i))
            nonce = os.urandom(LEGACY_NONCE_BYTES)
            legacy = nonce + _legacy_key(ring.roots[0]).encrypt(nonce, secret, i.bytes)
            sealed.append({"t": t, "i": i, "s": legacy})
        connection.execute(UPDATE_TOTP, sealed)
    # Codes hashed with the index key mean nothing to the older code: they go.
    op.execute("DELETE FROM mfa_backup_codes WHERE NOT legacy_hash")
    op.drop_column("mfa_backup_codes", "legacy_hash")
