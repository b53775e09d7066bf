"""The key ring: envelope keys in the database, root rotation, data-key rotation, sweeps."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from fiscus.core.db import Database
from fiscus.core.keyring import (
    KeyRing,
    KeyRingError,
    KeyRingNotLoaded,
    KeyRotationRefused,
    SealedColumn,
    column_reseal_batch,
    column_stale_count,
    context_of,
    data_key_activate,
    data_key_create,
    data_keys_retire,
    keys_rotate,
    kid_of,
)
from fiscus.core.keyring._rotation import ROTATION_LOCK

ROOT_A = "root-secret-a-" + "a" * 40
ROOT_B = "root-secret-b-" + "b" * 40
ROOT_C = "root-secret-c-" + "c" * 40


async def _keys(db: Database) -> list[tuple[str, str, str]]:
    async with db.uow() as uow:
        rows = await uow.session.execute(
            text("SELECT id, purpose, wrapped_by FROM encryption_keys ORDER BY created_at, id")
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def test_first_load_creates_one_data_and_one_index_key_and_later_loads_reuse_them(
    db: Database,
) -> None:
    ring = KeyRing([ROOT_A])
    await ring.load(db)
    first = await _keys(db)
    assert sorted(purpose for _, purpose, _ in first) == ["data", "index"]
    again = KeyRing([ROOT_A])
    await again.load(db)
    assert await _keys(db) == first
    sealed = ring.seal_text("ada@example.com", context=b"users.email")
    assert again.open_text(sealed, context=b"users.email") == "ada@example.com"
    assert ring.lookup_hash("ada@example.com", purpose="email") == again.lookup_hash(
        "ada@example.com", purpose="email"
    )


async def test_processes_starting_together_agree_on_one_set_of_keys(db: Database) -> None:
    rings = [KeyRing([ROOT_A]) for _ in range(8)]
    await asyncio.gather(*(ring.load(db) for ring in rings))
    assert len(await _keys(db)) == 2
    assert len({ring.current_kid for ring in rings}) == 1


async def test_a_value_moved_to_another_row_or_altered_does_not_open(db: Database) -> None:
    ring = KeyRing([ROOT_A])
    await ring.load(db)
    row_a, row_b = uuid.uuid4(), uuid.uuid4()
    sealed = ring.seal_text("secret", context=context_of("users.email", row_a))
    with pytest.raises(KeyRingError):
        ring.open(sealed, context=context_of("users.email", row_b))
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(KeyRingError):
        ring.open(altered, context=context_of("users.email", row_a))
    assert b"secret" not in sealed


async def test_a_database_from_another_installation_is_refused_with_a_clear_error(
    db: Database,
) -> None:
    await KeyRing([ROOT_A]).load(db)
    with pytest.raises(KeyRingError, match="FISCUS_SECRET_KEY"):
        await KeyRing([ROOT_B]).load(db)


async def test_root_rotation_rewraps_the_keys_and_old_values_still_open(db: Database) -> None:
    ring_a = KeyRing([ROOT_A])
    await ring_a.load(db)
    sealed = ring_a.seal_text("totp-secret", context=b"ctx")
    index = ring_a.lookup_hash("x", purpose="p")
    # Rotate: the new secret first, the old one kept while the keys are re-wrapped.
    ring_b = KeyRing([ROOT_B, ROOT_A])
    await ring_b.load(db)
    assert {by for _, _, by in await _keys(db)} == {ring_b_kid(ROOT_B)}
    # Once re-wrapped, the old secret is no longer needed, and twice over.
    ring_c = KeyRing([ROOT_C, ROOT_B])
    await ring_c.load(db)
    only_c = KeyRing([ROOT_C])
    await only_c.load(db)
    assert only_c.open_text(sealed, context=b"ctx") == "totp-secret"
    assert only_c.lookup_hash("x", purpose="p") == index
    with pytest.raises(KeyRingError):
        await KeyRing([ROOT_A]).load(db)


def ring_b_kid(secret: str) -> str:
    from fiscus.core.keyring import root_kid

    return root_kid(secret)


async def test_data_key_rotation_reseals_a_column_and_retires_the_old_key(db: Database) -> None:
    ring = KeyRing([ROOT_A])
    await ring.load(db)
    column = SealedColumn(
        table="keyring_probe",
        column="v",
        key=("id",),
        context=lambda key: context_of("probe.v", str(key[0])),
    )
    async with db.uow() as uow:
        await uow.session.execute(
            text("CREATE TABLE IF NOT EXISTS keyring_probe (id int PRIMARY KEY, v bytea)")
        )
        for i in range(25):
            await uow.session.execute(
                text("INSERT INTO keyring_probe VALUES (:i, :v)"),
                {"i": i, "v": ring.seal_text(f"value {i}", context=column.context((i,)))},
            )
    old = ring.current_kid
    try:
        new = await data_key_create(db, ring)
        assert ring.current_kid == old, "a new key is readable before it is used"
        await data_key_activate(db, ring, new)
        assert ring.current_kid == new
        assert await column_stale_count(db, ring, column) == 25
        done = 0
        while moved := await column_reseal_batch(db, ring, column, batch=10):
            done += moved
        assert done == 25
        assert await column_stale_count(db, ring, column) == 0
        assert await data_keys_retire(db, ring) == [old]
        fresh = KeyRing([ROOT_A])
        await fresh.load(db)
        async with db.uow() as uow:
            rows = (await uow.session.execute(text("SELECT id, v FROM keyring_probe"))).all()
        for i, value in rows:
            assert kid_of(bytes(value)) == new
            assert fresh.open_text(bytes(value), context=column.context((i,))) == f"value {i}"
    finally:
        async with db.uow() as uow:
            await uow.session.execute(text("DROP TABLE IF EXISTS keyring_probe"))


async def test_the_tenant_role_cannot_read_the_keys(db: Database) -> None:
    await KeyRing([ROOT_A]).load(db)
    from sqlalchemy.exc import ProgrammingError

    with pytest.raises(ProgrammingError, match="permission denied"):
        async with db.uow(tenant_id=uuid.uuid4()) as uow:
            await uow.session.execute(text("SELECT wrapped FROM encryption_keys"))


async def test_retiring_refuses_while_a_value_is_still_on_the_old_key(db: Database) -> None:
    ring = KeyRing([ROOT_A])
    await ring.load(db)
    column = SealedColumn(
        table="keyring_probe", column="v", key=("id",), context=lambda k: context_of("p", str(k[0]))
    )
    async with db.uow() as uow:
        await uow.session.execute(text("CREATE TABLE keyring_probe (id int PRIMARY KEY, v bytea)"))
        await uow.session.execute(
            text("INSERT INTO keyring_probe VALUES (1, :v)"),
            {"v": ring.seal_text("old", context=column.context((1,)))},
        )
    old = ring.current_kid
    try:
        await data_key_activate(db, ring, await data_key_create(db, ring))
        with pytest.raises(KeyRotationRefused, match=r"keyring_probe\.v"):
            await data_keys_retire(db, ring, [column])
        assert old in ring.kids(), "the key a value needs is kept"
        assert ring.open_text(await _probe_value(db), context=column.context((1,))) == "old"
    finally:
        async with db.uow() as uow:
            await uow.session.execute(text("DROP TABLE IF EXISTS keyring_probe"))


async def _probe_value(db: Database) -> bytes:
    async with db.uow() as uow:
        return bytes((await uow.session.execute(text("SELECT v FROM keyring_probe"))).scalar_one())


async def test_a_second_rotation_while_one_runs_is_refused(db: Database) -> None:
    ring = KeyRing([ROOT_A])
    await ring.load(db)
    before = ring.current_kid
    async with db.engine.connect() as holder:
        assert await holder.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": ROTATION_LOCK})
        with pytest.raises(KeyRotationRefused, match="Another"):
            await keys_rotate(db, ring, wait_s=0, columns=[])
        await holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ROTATION_LOCK})
    assert ring.current_kid == before
    result = await keys_rotate(db, ring, wait_s=0, columns=[])
    assert result.retired == [before] and ring.current_kid == result.new_kid


async def test_an_unloaded_ring_says_so_instead_of_failing_an_assertion() -> None:
    ring = KeyRing([ROOT_A])
    with pytest.raises(KeyRingNotLoaded):
        ring.seal_text("x", context=b"c")
    with pytest.raises(KeyRingNotLoaded):
        ring.lookup_hash("x", purpose="p")


async def test_the_refresher_outlives_a_refused_reload_and_recovers(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process re-wraps the keys under a secret this one does not know (a root
    # rotation this process was not restarted for): its reloads are refused, but the
    # refresher keeps trying, and picks new keys up once the keys open again.
    monkeypatch.setattr("fiscus.core.keyring._ring.REFRESH_S", 0.01)
    ring = KeyRing([ROOT_A])
    await ring.load(db)
    refresher = asyncio.create_task(ring.keep_fresh(db))
    try:
        await KeyRing([ROOT_B, ROOT_A]).load(db)  # re-wrapped under B: A's reloads fail
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert not refresher.done(), "a refused reload must not end the refresher"
        back = KeyRing([ROOT_A, ROOT_B])
        await back.load(db)  # re-wrapped under A again
        new = await data_key_create(db, back)
        for _ in range(500):
            if new in ring.kids():
                break
            await asyncio.sleep(0.01)
        assert new in ring.kids()
    finally:
        refresher.cancel()


async def test_keyed_hash_keeps_apart_what_lookup_hash_normalises_together(db: Database) -> None:
    ring = KeyRing([ROOT_A])
    await ring.load(db)
    assert ring.lookup_hash("ﬁ", purpose="p") == ring.lookup_hash("fi", purpose="p")
    assert ring.keyed_hash("ﬁ".encode(), purpose="p") != ring.keyed_hash(b"fi", purpose="p")
    assert ring.keyed_hash(b"x", purpose="p") != ring.keyed_hash(b"x", purpose="q")
