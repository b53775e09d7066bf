"""The import-linter contracts in pyproject.toml are the ones derived from src/fiscus."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tools import contracts


def _contracts_of(text: str) -> list[dict[str, object]]:
    parsed = tomllib.loads(text)
    found: list[dict[str, object]] = parsed["tool"]["importlinter"]["contracts"]
    return found


def test_pyproject_holds_the_contracts_generated_from_the_modules() -> None:
    text = contracts.PYPROJECT.read_text(encoding="utf-8")
    assert contracts.current_section(text) == contracts.section(contracts.layout()), (
        "pyproject.toml's import contracts are stale: run `python -m tools.contracts --write`"
    )


def test_every_module_with_tables_is_protected_from_every_other_module() -> None:
    found = contracts.layout()
    assert {"access", "audit", "identity", "ledger", "messaging", "webhooks"} <= set(
        found.with_models
    )
    by_target = {
        tuple(c["forbidden_modules"]): c  # type: ignore[arg-type]
        for c in _contracts_of(contracts.PYPROJECT.read_text(encoding="utf-8"))
        if c["type"] == "forbidden"
    }
    for owner in found.with_models:
        contract = by_target[(f"fiscus.{owner}.models",)]
        sources = set(contract["source_modules"])  # type: ignore[call-overload]
        expected = {f"fiscus.{m}" for m in (*found.packages, *found.entry_points, "deps")}
        assert sources == expected - {f"fiscus.{owner}", "fiscus.core"}


def test_a_new_module_gets_its_contracts_without_anyone_listing_it(tmp_path: Path) -> None:
    for name in ("core", "ledger", "banking"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "ledger" / "models.py").write_text("")
    (tmp_path / "banking" / "models.py").write_text("")
    (tmp_path / "cli.py").write_text("")
    generated = contracts.section(contracts.layout(tmp_path))
    parsed = _contracts_of(f'[tool.importlinter]\nroot_package = "fiscus"\n{generated}')
    banking_tables = next(
        c for c in parsed if c.get("forbidden_modules") == ["fiscus.banking.models"]
    )
    assert "fiscus.ledger" in banking_tables["source_modules"]  # type: ignore[operator]
    ledger_tables = next(
        c for c in parsed if c.get("forbidden_modules") == ["fiscus.ledger.models"]
    )
    assert "fiscus.banking" in ledger_tables["source_modules"]  # type: ignore[operator]
    entry = next(c for c in parsed if c["name"].startswith("domain modules"))  # type: ignore[union-attr]
    assert "fiscus.banking" in entry["source_modules"]  # type: ignore[operator]
    assert entry["forbidden_modules"] == ["fiscus.cli"]
