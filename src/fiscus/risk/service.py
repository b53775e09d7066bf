"""Risk writes: reading a sanctions list file and loading it, replacing the list atomically."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fiscus.core.clock import now
from fiscus.core.db import UnitOfWork
from fiscus.core.errors import FieldError, ValidationProblem
from fiscus.core.ids import new_id
from fiscus.core.logging import get_logger
from fiscus.risk.models import ENTRY_KINDS, LIST_NAME_PATTERN
from fiscus.risk.names import name_normalize

# The columns a file must have (a header row; other columns are ignored). `aliases` holds
# the other names separated by semicolons; `type` is one of ENTRY_KINDS; `country` is an
# ISO 3166 alpha-2 code or empty; `list_id` is the entry's id on the published list.
COLUMNS = ("list_id", "name", "aliases", "type", "country")
ALIAS_SEPARATOR = ";"
# Limits (STYLE rule 14): the largest published lists hold some tens of thousands.
MAX_FILE_BYTES = 100 * 1024 * 1024
MAX_ENTRIES = 500_000
MAX_ALIASES = 200
MAX_FIELD_CHARS = 1_000
MAX_REPORTED_PROBLEMS = 20
COPY_BATCH = 2_000
_COUNTRY = re.compile(r"[A-Z]{2}")
# Control characters (NUL above all, which PostgreSQL text cannot hold) have no place in a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
log = get_logger("fiscus.risk.sanctions")


@dataclass(frozen=True, slots=True)
class SanctionsRow:
    """One entry as read from a file, validated."""

    entry_id: str
    name: str
    aliases: tuple[str, ...]
    kind: str
    country: str | None

    @property
    def match_keys(self) -> list[str]:
        """The normal forms of the name and of each alias, in that order."""
        return [name_normalize(n) for n in (self.name, *self.aliases)]


@dataclass(frozen=True, slots=True)
class SanctionsFile:
    """A whole file, read and validated: ready to load."""

    source: str
    sha256: str
    rows: tuple[SanctionsRow, ...]


@dataclass(frozen=True, slots=True)
class SanctionsLoadResult:
    """What a load did."""

    name: str
    entry_count: int
    replaced_count: int  # entries the list held before (0 for a new list)


def sanctions_file_read(data: bytes, *, source: str) -> SanctionsFile:
    """Parse and validate a CSV file (UTF-8, header row); ValidationProblem names each
    bad line and column, and nothing is loaded from a file with any."""
    if len(data) > MAX_FILE_BYTES:
        raise ValidationProblem(f"The file is larger than {MAX_FILE_BYTES} bytes.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationProblem(f"The file is not UTF-8 text ({error.reason}).") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), restval="")
    header = [(column or "").strip().lower() for column in reader.fieldnames or []]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise ValidationProblem(
            f"The header lacks the column(s) {', '.join(missing)}; it needs {', '.join(COLUMNS)}."
        )
    reader.fieldnames = header
    rows: list[SanctionsRow] = []
    problems: list[FieldError] = []
    seen: set[str] = set()
    try:
        for record in reader:
            line = reader.line_num
            if len(rows) >= MAX_ENTRIES:
                raise ValidationProblem(f"The file holds more than {MAX_ENTRIES} entries.")
            row, found = _row(record, line, seen)
            problems.extend(found)
            if row is not None:
                rows.append(row)
                seen.add(row.entry_id)
    except csv.Error as error:
        raise ValidationProblem(f"Line {reader.line_num}: {error}.") from None
    if not rows and not problems:
        problems.append(FieldError("file", "holds no entries"))
    if problems:
        raise ValidationProblem(
            f"{len(problems)} problem(s); first: {problems[0].field}: {problems[0].message}.",
            errors=problems[:MAX_REPORTED_PROBLEMS],
        )
    return SanctionsFile(source=source, sha256=hashlib.sha256(data).hexdigest(), rows=tuple(rows))


def _row(
    record: dict[str, str | None], line: int, seen: set[str]
) -> tuple[SanctionsRow | None, list[FieldError]]:
    def value(column: str) -> str:
        found = record.get(column)
        return found.strip() if isinstance(found, str) else ""

    problems: list[FieldError] = []

    def refuse(column: str, message: str) -> None:
        problems.append(FieldError(f"line {line}.{column}", message))

    entry_id, name, kind = value("list_id"), value("name"), value("type").lower()
    aliases = tuple(a.strip() for a in value("aliases").split(ALIAS_SEPARATOR) if a.strip())
    country = value("country").upper() or None
    if not entry_id:
        refuse("list_id", "is empty")
    elif entry_id in seen:
        refuse("list_id", f"{entry_id!r} appears twice")
    if not name_normalize(name):
        refuse("name", "has no letters or digits")
    if any(len(v) > MAX_FIELD_CHARS or _CONTROL.search(v) for v in (entry_id, name, *aliases)):
        refuse("name", f"a value holds control characters or passes {MAX_FIELD_CHARS} characters")
    if len(aliases) > MAX_ALIASES or not all(name_normalize(a) for a in aliases):
        refuse("aliases", f"at most {MAX_ALIASES} aliases, each with letters or digits")
    if kind not in ENTRY_KINDS:
        refuse("type", f"must be one of {', '.join(ENTRY_KINDS)}")
    if country is not None and not _COUNTRY.fullmatch(country):
        refuse("country", "must be an ISO 3166 alpha-2 code such as IR, or empty")
    if problems:
        return None, problems
    return SanctionsRow(entry_id, name, aliases, kind, country), []


async def sanctions_list_load(
    uow: UnitOfWork,
    *,
    name: str,
    file: SanctionsFile,
    on_progress: Callable[[int], None] | None = None,
) -> SanctionsLoadResult:
    """Replace list `name` by the file's entries (create it if new), in the caller's unit of
    work: a screening running meanwhile sees the old list or the new one, never a mix.

    Operator work: the unit of work runs without a tenant (as the login role); the tenant
    role cannot write these tables. A second load of the same list waits for the first.
    """
    assert uow.active and uow.tenant_id is None, "the operator loads lists, outside a tenant"
    if not re.fullmatch(LIST_NAME_PATTERN, name):
        raise ValidationProblem(
            f"{name!r} is not a list name: lower-case letters, digits, '.', '_' or '-'.",
            field="list",
        )
    assert file.rows, "sanctions_file_read refuses a file without entries"
    # The upsert locks the list's row until commit: concurrent loads of one list take turns.
    before = await uow.fetch_one(
        "SELECT entry_count FROM sanctions_lists WHERE name = %s FOR UPDATE", (name,)
    )
    await uow.fetch_one(
        "INSERT INTO sanctions_lists (name, version, entry_count, source, sha256, loaded_at)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
        " version = excluded.version, entry_count = excluded.entry_count,"
        " source = excluded.source, sha256 = excluded.sha256, loaded_at = excluded.loaded_at",
        (name, new_id(), len(file.rows), file.source, file.sha256, now()),
    )
    await uow.fetch_one("DELETE FROM sanctions_entries WHERE list_name = %s", (name,))
    await _copy_entries(uow, name, file.rows, on_progress)
    result = SanctionsLoadResult(
        name=name, entry_count=len(file.rows), replaced_count=0 if before is None else before[0]
    )

    # The lists belong to no tenant, so no tenant's audit trail: the log records each load.
    async def said() -> None:
        log.info(
            "sanctions_list_loaded",
            list=name,
            entries=result.entry_count,
            replaced=result.replaced_count,
            source=file.source,
            sha256=file.sha256,
        )

    uow.after_commit(said)
    return result


async def _copy_entries(
    uow: UnitOfWork,
    name: str,
    rows: Sequence[SanctionsRow],
    on_progress: Callable[[int], None] | None,
) -> None:
    driver = await uow.driver()
    async with driver.cursor() as cursor:
        statement = (
            "COPY sanctions_entries (list_name, entry_id, name, aliases, kind, country,"
            " match_keys) FROM STDIN"
        )
        async with cursor.copy(statement) as copy:
            for start in range(0, len(rows), COPY_BATCH):
                batch = rows[start : start + COPY_BATCH]
                for row in batch:
                    await copy.write_row(
                        (
                            name,
                            row.entry_id,
                            row.name,
                            list(row.aliases),
                            row.kind,
                            row.country,
                            row.match_keys,
                        )
                    )
                if on_progress is not None:
                    on_progress(len(batch))
