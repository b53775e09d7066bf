import uuid

import pytest
from sqlalchemy import select

from fiscus.core.db import Database
from fiscus.core.errors import InvalidCursor
from fiscus.core.events import Event, emit
from fiscus.core.pagination import cursor_tag, decode_cursor, encode_cursor, keyset_page

TENANT = uuid.UUID("01900000-0000-7000-8000-0000000000aa")


async def test_keyset_pages_cover_every_row_once_in_order(db: Database) -> None:
    async with db.uow(tenant_id=TENANT) as uow:
        ids = [
            await emit(uow, tenant_id=TENANT, type="thing.created", subject=str(i), payload={})
            for i in range(7)
        ]
    seen: list[uuid.UUID] = []
    cursor = None
    pages = 0
    async with db.uow(tenant_id=TENANT) as uow:
        while True:
            rows, cursor = await keyset_page(
                uow.session,
                select(Event),
                keys=[Event.id],
                cursor=cursor,
                limit=3,
                key_of=lambda e: [str(e.id)],
            )
            seen.extend(row.id for row in rows)
            pages += 1
            if cursor is None:
                break
    assert seen == ids
    assert pages == 3


def test_cursor_round_trips_typed_and_tampering_is_an_invalid_cursor() -> None:
    keys = [Event.id, Event.position]
    tag = cursor_tag(keys)
    key = uuid.UUID("01900000-0000-7000-8000-0000000000ab")
    assert decode_cursor(encode_cursor([key, 7], tag=tag), keys=keys) == [key, 7]
    for bad in [
        "!!!",
        "e30",
        encode_cursor([str(key)], tag=tag),
        encode_cursor([7, str(key)], tag=tag),
        encode_cursor([str(key), 2**63], tag=tag),
        encode_cursor([str(key), 7], tag="other_table.id,other_table.position"),
    ]:
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, keys=keys)
