"""Cursor pagination: `?limit=50&cursor=...` -> `{"data": [...], "next_cursor": ...}`.

Cursors are opaque base64url JSON of the last row's sort key (keyset pagination), so a
page costs one index range scan however deep the client has paged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from fiscus.core.errors import ValidationProblem

T = TypeVar("T")
R = TypeVar("R")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..200")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` from the previous page")
]


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    data: list[T]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    """Opaque cursor for a sort key (strings, ints, ISO datetimes, UUID strings)."""
    raw = json.dumps([str(v) if not isinstance(v, int | str) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, size: int) -> list[Any]:
    """Decode a cursor made by encode_cursor; a tampered cursor is a 400, not a 500."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationProblem("The cursor is not valid.", field="cursor") from None
    if not isinstance(values, list) or len(values) != size:
        raise ValidationProblem("The cursor is not valid.", field="cursor")
    return values


async def keyset_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    keys: Sequence[ColumnElement[Any]],
    cursor: str | None,
    limit: int,
    key_of: Callable[[R], Sequence[Any]],
    parse: Callable[[list[Any]], Sequence[Any]] = lambda values: values,
    descending: bool = False,
) -> tuple[list[R], str | None]:
    """Run `stmt` ordered by `keys` after `cursor`; return rows and the next cursor."""
    assert 1 <= limit <= MAX_LIMIT, "limit is validated at the edge"
    if cursor is not None:
        try:
            after = parse(decode_cursor(cursor, size=len(keys)))
        except (ValueError, TypeError):
            raise ValidationProblem("The cursor is not valid.", field="cursor") from None
        key = tuple_(*keys) if len(keys) > 1 else keys[0]
        bound = tuple_(*after) if len(keys) > 1 else after[0]
        stmt = stmt.where(key < bound if descending else key > bound)
    order = [k.desc() for k in keys] if descending else list(keys)
    result = await session.execute(stmt.order_by(*order).limit(limit + 1))
    rows: list[R] = list(result.scalars())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(key_of(rows[-1]))
