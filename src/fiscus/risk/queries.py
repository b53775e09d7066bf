"""Risk reads: screening a name against every loaded sanctions list, and the lists' status.

Each process caches the normal forms of each list, keyed by the list's `version` (a fresh
UUID per load, so a key never means two contents, even across databases). A screening asks
the database only for the versions; a list whose version is not cached is read whole, in
one statement that returns the version with the entries, so the cached content always is
the one its key names, even when a reload commits between the two statements.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fiscus.core.db import UnitOfWork
from fiscus.core.errors import ValidationProblem
from fiscus.risk.names import MATCH_THRESHOLD, NameIndex, name_normalize

MAX_NAME_CHARS = 1_000
MAX_HITS = 50
MAX_NAMES_PER_SCREENING = 20
# Versions kept per process: every loaded list, with room for the versions a reload leaves.
CACHED_VERSIONS = 32


@dataclass(frozen=True, slots=True)
class Hit:
    """A listed entry whose name or alias matched the screened name."""

    list_name: str
    entry_id: str  # the entry's id on the published list
    name: str  # the entry's listed name
    matched_name: str  # the name or alias that matched (may be `name`)
    kind: str  # individual, entity, vessel or aircraft
    country: str | None
    score: float  # 0-100; at or above the threshold used


@dataclass(frozen=True, slots=True)
class SanctionsListStatus:
    """One loaded list."""

    name: str
    entry_count: int
    source: str
    sha256: str
    loaded_at: datetime


@dataclass(frozen=True, slots=True)
class _Entry:
    entry_id: str
    name: str
    names: tuple[str, ...]  # the name, then the aliases
    kind: str
    country: str | None


@dataclass(frozen=True, slots=True)
class _ListIndex:
    """A list's normal forms, flat, with the entry and the name each one comes from."""

    names: NameIndex
    owners: list[tuple[_Entry, int]]


_cache: OrderedDict[uuid.UUID, _ListIndex] = OrderedDict()


async def screen_name(
    uow: UnitOfWork, name: str, *, threshold: float = MATCH_THRESHOLD
) -> list[Hit]:
    """Entries of every loaded list matching `name` (names and aliases), best first, one
    hit per entry, at most MAX_HITS. Runs inside any unit of work, a tenant's included
    (tenants may read the lists); it needs the normal mode, not single-statement."""
    (hits,) = await screen_names(uow, [name], threshold=threshold)
    return hits


async def screen_names(
    uow: UnitOfWork, names: Sequence[str], *, threshold: float = MATCH_THRESHOLD
) -> list[list[Hit]]:
    """`screen_name` for several names at once (a payment's payer and payee), with one
    query for the lists' versions: the hits of each name, in the order given."""
    assert 0 < threshold <= 100, "the threshold is a score from 0 to 100"
    assert len(names) <= MAX_NAMES_PER_SCREENING, "screen a bounded number of names at once"
    for name in names:
        if len(name) > MAX_NAME_CHARS:
            message = f"A name has at most {MAX_NAME_CHARS} characters."
            raise ValidationProblem(message, field="name")
    queries = [name_normalize(name) for name in names]
    indexes = await _indexes(uow) if any(queries) else []
    return [_hits(query, indexes, threshold) for query in queries]


def _hits(query: str, indexes: list[tuple[str, _ListIndex]], threshold: float) -> list[Hit]:
    hits: list[Hit] = []
    for list_name, index in indexes:
        best: dict[str, Hit] = {}
        for match in index.names.matches(query, threshold=threshold):
            entry, position = index.owners[match.index]
            if entry.entry_id not in best or match.score > best[entry.entry_id].score:
                best[entry.entry_id] = Hit(
                    list_name=list_name,
                    entry_id=entry.entry_id,
                    name=entry.name,
                    matched_name=entry.names[position],
                    kind=entry.kind,
                    country=entry.country,
                    score=round(match.score, 1),
                )
        hits.extend(best.values())
    hits.sort(key=lambda hit: (-hit.score, hit.list_name, hit.entry_id))
    return hits[:MAX_HITS]


async def _indexes(uow: UnitOfWork) -> list[tuple[str, _ListIndex]]:
    """(list name, index) of every loaded list, reading only the lists not cached."""
    versions = await uow.fetch_all("SELECT name, version FROM sanctions_lists ORDER BY name", ())
    missing = [name for name, version in versions if version not in _cache]
    current = dict(versions)
    if missing:
        rows = await uow.fetch_all(
            "SELECT l.name, l.version, e.entry_id, e.name, e.aliases, e.kind, e.country,"
            " e.match_keys FROM sanctions_lists l JOIN sanctions_entries e"
            " ON e.list_name = l.name WHERE l.name = ANY(%s) ORDER BY l.name, e.entry_id",
            (missing,),
        )
        built: dict[uuid.UUID, tuple[list[str], list[tuple[_Entry, int]]]] = {}
        for list_name, version, entry_id, name, aliases, kind, country, keys in rows:
            all_keys, owners = built.setdefault(version, ([], []))
            entry = _Entry(entry_id, name, (name, *aliases), kind, country)
            all_keys.extend(keys)
            owners.extend((entry, position) for position in range(len(keys)))
            current[list_name] = version  # a reload may have committed since the first read
        for version, (all_keys, owners) in built.items():
            _cache[version] = _ListIndex(names=NameIndex(all_keys), owners=owners)
    found = [(name, _cache[version]) for name, version in current.items() if version in _cache]
    for _, version in versions:
        if version in _cache:
            _cache.move_to_end(version)
    while len(_cache) > CACHED_VERSIONS:
        _cache.popitem(last=False)
    return found


async def sanctions_list_statuses(uow: UnitOfWork) -> list[SanctionsListStatus]:
    """Every loaded list, by name."""
    rows = await uow.fetch_all(
        "SELECT name, entry_count, source, sha256, loaded_at FROM sanctions_lists ORDER BY name",
        (),
    )
    return [SanctionsListStatus(*row) for row in rows]
