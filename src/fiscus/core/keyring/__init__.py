"""The key ring: one set of keys for everything fiscus encrypts at rest or hashes for look-up.

Envelope encryption. The data itself is encrypted with random 256-bit *data keys* kept in
the `encryption_keys` table, each wrapped (AES-GCM) by a key derived from the root secret
`FISCUS_SECRET_KEY`. A database dump therefore holds no readable personal data or secret
without the root secret, and:

* rotating the root secret re-wraps a handful of keys, not every row: set the new
  `FISCUS_SECRET_KEY`, list the old one in `FISCUS_PREVIOUS_SECRET_KEYS`, start fiscus (or
  run `fiscus keys rotate`); the keys are re-wrapped under the new secret at start;
* rotating the data key (`fiscus keys rotate`) makes a new key, waits until every process
  has loaded it, switches new writes to it, waits until every process writes with it,
  re-encrypts every registered column in the background, and deletes the old key once no
  registered value refers to it.

Every sealed value names its key: `0x01 | key id (8 ASCII) | nonce (12) | AES-GCM ciphertext`,
with caller-chosen associated data (the table, column and row) so that a value copied to
another row or column does not decrypt. A module that seals a column registers it
(`register_sealed_column`) so that rotation re-seals it and `fiscus keys status` counts it.

Look-up hashes (blind indexes of emails, phone numbers; backup codes) are HMAC-SHA256
under the *index key*, which is never replaced, only re-wrapped: replacing it would make
every stored backup code unusable. It protects low-entropy values against offline guessing
by anyone who has the database but not the root secret. `keyed_hash` is the same HMAC over
exact bytes, for fingerprints and signed links that must survive every rotation.

The root secret itself is backed up with `fiscus keys export` (a passphrase-encrypted
bundle, `_bundle.py`); a dump without it cannot be opened anywhere.
"""

from fiscus.core.keyring._bundle import (
    BUNDLE_FORMAT,
    MIN_PASSPHRASE_CHARS,
    SecretBundle,
    SecretBundleError,
    secret_bundle_export,
    secret_bundle_import,
    secret_bundle_open,
    secret_bundle_seal,
)
from fiscus.core.keyring._ring import (
    DATA,
    FORMAT,
    HEADER_BYTES,
    INDEX,
    KEYRING_LOCK,
    KID_CHARS,
    NONCE_BYTES,
    REFRESH_S,
    KeyRing,
    KeyRingEmpty,
    KeyRingError,
    KeyRingNotLoaded,
    context_of,
    kid_of,
    root_kid,
    roots_from,
)
from fiscus.core.keyring._rotation import (
    RESEAL_BATCH,
    ROLLOUT_WAIT_S,
    KeyInfo,
    KeyRotationRefused,
    KeysStatus,
    RotationProgress,
    RotationResult,
    SealedColumn,
    column_key_counts,
    column_reseal_batch,
    column_stale_count,
    data_key_activate,
    data_key_create,
    data_keys_retire,
    keys_rotate,
    keys_status,
    register_sealed_column,
    sealed_columns,
)

__all__ = [
    "BUNDLE_FORMAT",
    "DATA",
    "FORMAT",
    "HEADER_BYTES",
    "INDEX",
    "KEYRING_LOCK",
    "KID_CHARS",
    "MIN_PASSPHRASE_CHARS",
    "NONCE_BYTES",
    "REFRESH_S",
    "RESEAL_BATCH",
    "ROLLOUT_WAIT_S",
    "KeyInfo",
    "KeyRing",
    "KeyRingEmpty",
    "KeyRingError",
    "KeyRingNotLoaded",
    "KeyRotationRefused",
    "KeysStatus",
    "RotationProgress",
    "RotationResult",
    "SealedColumn",
    "SecretBundle",
    "SecretBundleError",
    "column_key_counts",
    "column_reseal_batch",
    "column_stale_count",
    "context_of",
    "data_key_activate",
    "data_key_create",
    "data_keys_retire",
    "keys_rotate",
    "keys_status",
    "kid_of",
    "register_sealed_column",
    "root_kid",
    "roots_from",
    "sealed_columns",
    "secret_bundle_export",
    "secret_bundle_import",
    "secret_bundle_open",
    "secret_bundle_seal",
]
