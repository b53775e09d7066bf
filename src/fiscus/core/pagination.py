"""Cursor pagination: `?limit=50&cursor=...` -> `{"data": [...], "next_cursor": ...}`.

Cursors are opaque base64url JSON of the last row's sort key (keyset pagination), so a
page costs one index range scan however deep the client has paged.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from fiscus.core.clock import parse_timestamp
from fiscus.core.errors import InvalidCursor

T = TypeVar("T")
R = TypeVar("R")

MAX_LIMIT = 200
# A cursor is small; anything longer was not made here (and is refused before decoding).
MAX_CURSOR_CHARS = 512
DEFAULT_LIMIT = 50

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1..200")]
Cursor = Annotated[
    str | None,
    # No max_length here: decode_cursor refuses a long cursor with the precise problem type.
    Query(description="`next_cursor` from the previous page"),
]


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    data: list[T]
    next_cursor: str | None


_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_POSITION = re.compile(r"^[0-9]{1,18}$")
_BIGINT = range(-(2**63), 2**63)


def _refuse_constant(name: str) -> Any:
    # json.loads reads NaN and Infinity by default; no cursor of ours contains them.
    raise ValueError(name)


def cursor_tag(keys: Sequence[ColumnElement[Any]]) -> str:
    """Which list a cursor belongs to: its sort keys' table and column names."""
    names = []
    for key in keys:
        column = key.expression  # a mapped attribute's column, or the column itself
        table = getattr(getattr(column, "table", None), "name", "")
        names.append(f"{table}.{getattr(column, 'name', '')}")
    return ",".join(names)


def encode_cursor(values: Sequence[Any], *, tag: str) -> str:
    """Opaque cursor for a sort key (strings, ints, UUIDs, datetimes) of the list `tag`."""
    raw = json.dumps([tag, *(v if isinstance(v, int | str) else str(v) for v in values)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _typed(value: Any, python_type: type) -> Any:
    """One sort-key value, checked against its column's type (ValueError if it is not)."""
    if python_type is int:
        if isinstance(value, int) and not isinstance(value, bool) and value in _BIGINT:
            return value
    elif python_type is uuid.UUID:
        if isinstance(value, str) and len(value) <= 36:
            return uuid.UUID(value)
    elif python_type is datetime:
        if isinstance(value, str):
            return parse_timestamp(value)
    elif python_type is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a new key type needs a rule here first
        raise AssertionError(f"no cursor rule for {python_type}")
    raise ValueError("wrong type")


def decode_cursor(cursor: str, *, keys: Sequence[ColumnElement[Any]]) -> list[Any]:
    """The sort key a cursor from encode_cursor holds, typed like `keys`; else InvalidCursor.

    Every list decodes its cursor here, so a tampered cursor (not base64, not JSON, a
    number, an object, a list of the wrong size or types, another list's cursor, a number
    out of the column's range) is the same 400 `cursor-invalid` everywhere, never a 500.
    """
    if not 0 < len(cursor) <= MAX_CURSOR_CHARS or not _BASE64URL.match(cursor):
        raise InvalidCursor()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode())
        values = json.loads(raw, parse_constant=_refuse_constant)
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidCursor() from None
    if (
        not isinstance(values, list)
        or len(values) != len(keys) + 1
        or values[0] != cursor_tag(keys)
    ):
        raise InvalidCursor()
    try:
        return [_typed(v, k.type.python_type) for v, k in zip(values[1:], keys, strict=True)]
    except ValueError:
        raise InvalidCursor() from None


def position_after(value: str | None, *, field: str = "after") -> int:
    """A stream position cursor (digits only, as handed out; empty means the start)."""
    if value is None or value == "":
        return 0
    # str.isdigit() accepts "²" and other digits int() refuses: match ASCII digits only.
    if not _POSITION.match(value):
        raise InvalidCursor(f"`{field}` is a cursor from `next_cursor` (or 0).", field=field)
    return int(value)


async def keyset_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    keys: Sequence[ColumnElement[Any]],
    cursor: str | None,
    limit: int,
    key_of: Callable[[R], Sequence[Any]],
    descending: bool = False,
) -> tuple[list[R], str | None]:
    """Run `stmt` ordered by `keys` after `cursor`; return rows and the next cursor."""
    assert 1 <= limit <= MAX_LIMIT, "limit is validated at the edge"
    if cursor is not None:
        after = decode_cursor(cursor, keys=keys)
        key = tuple_(*keys) if len(keys) > 1 else keys[0]
        bound = tuple_(*after) if len(keys) > 1 else after[0]
        stmt = stmt.where(key < bound if descending else key > bound)
    order = [k.desc() for k in keys] if descending else list(keys)
    result = await session.execute(stmt.order_by(*order).limit(limit + 1))
    rows: list[R] = list(result.scalars())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(key_of(rows[-1]), tag=cursor_tag(keys))
