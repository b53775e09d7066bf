"""Sanctions lists: loading (atomic reloads, bad files), fuzzy screening, the CLI."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz
from typer.testing import CliRunner

from fiscus.cli import app as cli_app
from fiscus.core.config import Settings
from fiscus.core.db import Database
from fiscus.core.errors import ValidationProblem
from fiscus.risk import names
from fiscus.risk.names import MATCH_THRESHOLD, name_normalize
from fiscus.risk.queries import sanctions_list_statuses, screen_name, screen_names
from fiscus.risk.service import (
    SanctionsFile,
    SanctionsRow,
    sanctions_file_read,
    sanctions_list_load,
)
from tests.test_cli import fiscus

LIST_CSV = """list_id,name,aliases,type,country,programme
SDN-1001,Ivan Petrovich SIDOROV,Ivan Sidorov;Jean Sidorof,individual,RU,UKRAINE-EO13662
SDN-1002,Müller-Lüdenscheidt Handels GmbH,MLH Trading,entity,DE,
SDN-1003,Osama bin Laden,Usama bin Ladin;Abu Abdallah,individual,,SDGT
SDN-1004,Sea Breeze,,vessel,PA,
SDN-1005,"O'Neill, Siobhán",,individual,IE,
"""


def _file(text: str = LIST_CSV, source: str = "sdn.csv") -> SanctionsFile:
    return sanctions_file_read(text.encode(), source=source)


async def _load(db: Database, name: str = "ofac-sdn", text: str = LIST_CSV) -> None:
    async with db.uow() as uow:
        await sanctions_list_load(uow, name=name, file=_file(text))


async def _screen(db: Database, name: str, **kwargs: float) -> list[tuple[str, str]]:
    """(entry id, matched name) of each hit, screened inside a tenant's unit of work."""
    async with db.uow(tenant_id=uuid.uuid4()) as uow:
        hits = await screen_name(uow, name, **kwargs)
    return [(hit.entry_id, hit.matched_name) for hit in hits]


def test_names_normalise_case_accents_punctuation_and_order() -> None:
    assert name_normalize("SIDOROV, Ivan Petrovich") == "ivan petrovich sidorov"
    assert name_normalize("Müller-Lüdenscheidt  Handels-GmbH") == "gmbh handels ludenscheidt muller"
    curly = "O\u2019Neill, Siobh\u00e1n"
    assert name_normalize(curly) == name_normalize("ONeill Siobhan") == "oneill siobhan"
    assert name_normalize("Łukasz Ørsted STRASSE Straße") == "lukasz orsted strasse strasse"
    assert name_normalize(" -- ") == ""


def test_the_configured_threshold_defaults_to_the_modules() -> None:
    assert Settings.model_fields["sanctions_match_threshold"].default == MATCH_THRESHOLD


async def test_exact_reordered_accented_typo_and_alias_names_hit(db: Database) -> None:
    await _load(db)
    assert await _screen(db, "Ivan Petrovich Sidorov") == [("SDN-1001", "Ivan Petrovich SIDOROV")]
    assert await _screen(db, "SIDOROV Ivan Petrovich") == [("SDN-1001", "Ivan Petrovich SIDOROV")]
    assert await _screen(db, "Ivan Petrovitch Sidorow") == [("SDN-1001", "Ivan Petrovich SIDOROV")]
    assert await _screen(db, "mueller ludenscheidt handels gmbh") == [
        ("SDN-1002", "Müller-Lüdenscheidt Handels GmbH")
    ]
    assert await _screen(db, "Muller Ludenscheidt Handels GmbH") == [
        ("SDN-1002", "Müller-Lüdenscheidt Handels GmbH")
    ]
    assert await _screen(db, "Siobhan ONeill") == [("SDN-1005", "O'Neill, Siobhán")]
    # Aliases are screened too, and each entry is one hit however many of its names match.
    assert await _screen(db, "Usama Bin Ladin") == [("SDN-1003", "Usama bin Ladin")]
    assert await _screen(db, "Osama bin Ladin") in (
        [("SDN-1003", "Osama bin Laden")],
        [("SDN-1003", "Usama bin Ladin")],
    )
    assert await _screen(db, "MLH trading") == [("SDN-1002", "MLH Trading")]
    # A longer name containing a listed one of two tokens or more.
    assert await _screen(db, "Ivan Sidorov Jr") == [("SDN-1001", "Ivan Sidorov")]


async def test_clear_non_hits(db: Database) -> None:
    await _load(db)
    for name in ("John Smith", "Ivan", "Sidorova Anna", "Sea Shepherd", "Bin", "Acme GmbH", "!!!"):
        assert await _screen(db, name) == [], name


async def test_a_hit_carries_the_entry_and_its_score(db: Database) -> None:
    await _load(db)
    async with db.uow() as uow:
        (hit,) = await screen_name(uow, "Sea Breeze")
    assert (hit.list_name, hit.entry_id, hit.name, hit.kind, hit.country) == (
        "ofac-sdn",
        "SDN-1004",
        "Sea Breeze",
        "vessel",
        "PA",
    )
    assert hit.score == 100.0


async def test_several_names_are_screened_in_one_call(db: Database) -> None:
    await _load(db)
    async with db.uow(tenant_id=uuid.uuid4()) as uow:
        payer, payee, blank = await screen_names(uow, ["Anna Schmidt", "Sea Breeze", ""])
    assert payer == [] and blank == []
    assert [hit.entry_id for hit in payee] == ["SDN-1004"]
    with pytest.raises(ValidationProblem):
        async with db.uow() as uow:
            await screen_names(uow, ["A" * 1001])


async def test_the_threshold_moves_the_line(db: Database) -> None:
    await _load(db)
    assert await _screen(db, "Igor Sidorov") == []  # another man of the same family name
    assert await _screen(db, "Igor Sidorov", threshold=70) == [("SDN-1001", "Ivan Sidorov")]


async def test_several_lists_are_screened_and_a_reload_replaces_only_its_list(db: Database) -> None:
    await _load(db)
    await _load(
        db,
        "eu-consolidated",
        "list_id,name,aliases,type,country\nEU-1,Ivan Sidorov,,individual,RU\n",
    )
    hits = await _screen(db, "Ivan Sidorov")
    assert sorted(hits) == [("EU-1", "Ivan Sidorov"), ("SDN-1001", "Ivan Sidorov")]
    await _load(
        db, "ofac-sdn", "list_id,name,aliases,type,country\nSDN-2001,Sea Breeze II,,vessel,\n"
    )
    assert await _screen(db, "Ivan Sidorov") == [("EU-1", "Ivan Sidorov")]
    assert await _screen(db, "Sea Breeze 2") == [("SDN-2001", "Sea Breeze II")]
    async with db.uow() as uow:
        statuses = await sanctions_list_statuses(uow)
    assert [(s.name, s.entry_count, s.source) for s in statuses] == [
        ("eu-consolidated", 1, "sdn.csv"),
        ("ofac-sdn", 1, "sdn.csv"),
    ]


async def test_a_reload_is_atomic_for_concurrent_screening(db: Database) -> None:
    await _load(db)
    replacement = _file("list_id,name,aliases,type,country\nNEW-1,Totally New Name,,entity,\n")
    async with db.uow() as loader:
        result = await sanctions_list_load(loader, name="ofac-sdn", file=replacement)
        assert (result.entry_count, result.replaced_count) == (1, 5)
        # Not yet committed: another transaction still screens against the old list.
        assert await _screen(db, "Ivan Sidorov") == [("SDN-1001", "Ivan Sidorov")]
        assert await _screen(db, "Totally New Name") == []
    assert await _screen(db, "Ivan Sidorov") == []
    assert await _screen(db, "Totally New Name") == [("NEW-1", "Totally New Name")]


async def test_a_reload_failing_midway_leaves_the_old_list(db: Database) -> None:
    await _load(db)
    rows = [SanctionsRow(f"X-{i}", f"Name Number {i}", (), "individual", None) for i in range(5000)]
    rows.append(SanctionsRow("X-bad", "Bad Kind", (), "submarine", None))  # the table refuses
    broken = SanctionsFile(source="broken.csv", sha256="0" * 64, rows=tuple(rows))
    with pytest.raises(psycopg.errors.CheckViolation):
        async with db.uow() as uow:
            await sanctions_list_load(uow, name="ofac-sdn", file=broken)
    assert await _screen(db, "Ivan Sidorov") == [("SDN-1001", "Ivan Sidorov")]
    async with db.uow() as uow:
        (status,) = await sanctions_list_statuses(uow)
    assert (status.entry_count, status.source) == (5, "sdn.csv")


async def test_tenants_may_read_the_lists_but_never_write_them(db: Database) -> None:
    await _load(db)
    for statement in (
        "DELETE FROM sanctions_entries",
        "UPDATE sanctions_lists SET entry_count = 1",
        "INSERT INTO sanctions_lists VALUES ('mine', gen_random_uuid(), 1, 'x', 'x', now())",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            async with db.uow(tenant_id=uuid.uuid4()) as uow:
                await uow.fetch_one(statement, ())
    with pytest.raises(AssertionError):
        async with db.uow(tenant_id=uuid.uuid4()) as uow:
            await sanctions_list_load(uow, name="mine", file=_file())
    assert await _screen(db, "Sea Breeze") == [("SDN-1004", "Sea Breeze")]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name,aliases,type,country\nA,,individual,\n", None),  # no list_id column
        ("list_id,name,aliases,type,country\n1,,,individual,\n", "line 2.name"),
        ("list_id,name,aliases,type,country\n1,A B,,person,\n", "line 2.type"),
        ("list_id,name,aliases,type,country\n1,A B,,entity,Iran\n", "line 2.country"),
        ("list_id,name,aliases,type,country\n1,A B,,entity,\n1,C D,,entity,\n", "line 3.list_id"),
        ("list_id,name,aliases,type,country\n,A B,,entity,\n", "line 2.list_id"),
        ("list_id,name,aliases,type,country\n1,A B,;--;,entity,\n", "line 2.aliases"),
        ("list_id,name,aliases,type,country\n", "file"),
    ],
)
def test_bad_files_are_refused_with_the_line(text: str, field: str | None) -> None:
    with pytest.raises(ValidationProblem) as caught:
        _file(text)
    problem = caught.value.problem()
    assert problem["status"] == 400 and problem["type"].endswith("/validation-error")
    if field is not None:
        assert problem["errors"][0]["field"] == field


def test_a_file_that_is_not_utf8_text_is_refused() -> None:
    with pytest.raises(ValidationProblem, match="UTF-8"):
        sanctions_file_read("list_id,name\n1,Dvořák".encode("utf-16"), source="x.csv")
    with pytest.raises(ValidationProblem, match="control characters"):
        sanctions_file_read(b"list_id,name,aliases,type,country\n1,A\x00B,,entity,\n", source="x")


async def test_an_invalid_list_name_is_refused(db: Database) -> None:
    with pytest.raises(ValidationProblem) as caught:
        async with db.uow() as uow:
            await sanctions_list_load(uow, name="Bad Name", file=_file())
    assert caught.value.errors[0].field == "list"


async def test_screening_thousands_of_entries_is_fast(db: Database) -> None:
    syllables = ["ka", "ri", "mo", "tu", "le", "sa", "vo", "ni", "ha", "de", "po", "gu"]
    lines = ["list_id,name,aliases,type,country"]
    for i in range(6000):
        first = "".join(syllables[(i >> s) % 12] for s in (0, 3, 6))
        last = "".join(syllables[(i * 7 >> s) % 12] for s in (1, 4, 7, 9))
        lines.append(f"B-{i},{first} {last},{last} {first[:3]},individual,")
    await _load(db, "big", "\n".join(lines) + "\n")
    await _screen(db, "warm the cache")
    started = time.perf_counter()
    for _ in range(10):
        await _screen(db, "Karimo Tulesavo")
    per_screen_s = (time.perf_counter() - started) / 10
    # 12 000 names (names and aliases): milliseconds each; a generous bound for a busy CI.
    assert per_screen_s < 0.25, per_screen_s


def test_cli_help_names_the_columns() -> None:
    result = CliRunner().invoke(cli_app, ["sanctions", "load", "--help"])
    assert result.exit_code == 0
    assert "--list" in result.output and "list_id" in result.output


def test_the_cli_loads_a_file_shows_the_status_and_screens(
    clean_database: str, tmp_path: Path
) -> None:
    path = tmp_path / "OFAC SDN.csv"
    path.write_text(LIST_CSV, encoding="utf-8")
    loaded = fiscus("sanctions", "load", str(path), url=clean_database)
    assert loaded.returncode == 0, loaded.stderr
    assert "Loaded 5 entries into list ofac-sdn" in loaded.stderr
    again = fiscus("sanctions", "load", str(path), "--list", "ofac-sdn", url=clean_database)
    assert again.returncode == 0 and "replacing 5" in again.stderr
    status = fiscus("sanctions", "status", url=clean_database)
    assert (
        status.returncode == 0 and "ofac-sdn" in status.stdout and "OFAC SDN.csv" in status.stdout
    )
    hit = fiscus("sanctions", "screen", "sidorov ivan petrovich", url=clean_database)
    assert hit.returncode == 1 and "SDN-1001" in hit.stdout
    clear = fiscus("sanctions", "screen", "John Smith", url=clean_database)
    assert clear.returncode == 0 and "No match" in clear.stderr

    bad = tmp_path / "bad.csv"
    bad.write_text("list_id,name,aliases,type,country\n1,A B,,spaceship,\n", encoding="utf-8")
    refused = fiscus("sanctions", "load", str(bad), "--list", "ofac-sdn", url=clean_database)
    assert refused.returncode == 1 and "line 2.type" in refused.stderr
    unchanged = asyncio.run(_entry_count(clean_database))
    assert unchanged == 5


async def _entry_count(url: str) -> int:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.uow() as uow:
            row = await uow.fetch_one("SELECT count(*) FROM sanctions_entries", ())
    finally:
        await db.dispose()
    assert row is not None
    return int(row[0])


def test_the_subset_rule_needs_two_tokens() -> None:
    index = names.NameIndex([name_normalize("Ali Hassan Mohammed"), name_normalize("Bo Li")])
    assert index.matches(name_normalize("Ali"), threshold=MATCH_THRESHOLD) == []
    assert index.matches(name_normalize("Ali Mohammed"), threshold=MATCH_THRESHOLD) == [
        names.Match(0, 100.0)
    ]
    assert index.matches("", threshold=MATCH_THRESHOLD) == []


words = st.sampled_from(["ali", "hassan", "ivan", "sidorov", "bin", "ladin", "sea", "breeze"])
some_names = st.lists(words, min_size=1, max_size=4).map(lambda w: " ".join(sorted(w)))


@settings(deadline=None, max_examples=200)
@given(query=some_names, keys=st.lists(some_names, min_size=1, max_size=30))
def test_the_token_index_finds_what_scoring_every_name_finds(query: str, keys: list[str]) -> None:
    """The subset measure run on the names sharing a token equals it run on every name."""
    everything: dict[int, float] = {}
    for index, key in enumerate(keys):
        subset = fuzz.token_set_ratio(query, key)
        two_tokens = min(len(query.split()), len(key.split())) >= names.MIN_SUBSET_TOKENS
        score = max(fuzz.ratio(query, key), subset if two_tokens else 0.0)
        if score >= MATCH_THRESHOLD:
            everything[index] = score
    found = names.NameIndex(keys).matches(query, threshold=MATCH_THRESHOLD)
    assert {m.index: m.score for m in found} == pytest.approx(everything)
