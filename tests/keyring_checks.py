"""A test hook for every module that seals columns: nothing is left on an old data key.

After `fiscus keys rotate`, every value of every registered sealed column must be sealed
with the current data key (the rotation re-sealed it, or it was written after). Identity's
sealed columns (TOTP secrets, emails, names) register themselves like messaging's do, so
this check covers them as soon as they land: call it after a rotation in their tests.
"""

from __future__ import annotations

from fiscus.core.db import Database
from fiscus.core.keyring import KeyRing, column_stale_count, sealed_columns
from fiscus.core.models import import_all_models


async def assert_nothing_stale(db: Database, ring: KeyRing) -> list[str]:
    """Assert no registered sealed value is on an old data key; the columns checked."""
    import_all_models()  # every module registers its sealed columns next to its tables
    await ring.load(db, create=False)
    stale = {column.name: await column_stale_count(db, ring, column) for column in sealed_columns()}
    assert stale, "no sealed column is registered"
    assert not any(stale.values()), f"values left on an older data key: {stale}"
    return sorted(stale)
