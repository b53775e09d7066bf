"""Every error a client can see has one stable, well-spelt `type` slug and a docstring."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import fiscus
from fiscus.core.errors import RETIRED_SLUGS, DomainError, all_error_classes
from fiscus.core.http import _HTTP_SLUGS

KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# A slug names its subject first and what is wrong with it last: `token-invalid`, never
# `invalid-token`. These words say what is wrong, so they never open a slug. (The slugs of
# bare HTTP statuses are their reason phrases: `bad-request`, `not-acceptable`.)
CONDITIONS = {
    "duplicate", "expired", "invalid", "malformed", "missing", "unknown", "unsafe",
    "weak", "wrong",
}  # fmt: skip
# Problem types written without a DomainError class (core.http, ops.api).
LITERAL_SLUGS = [
    *(slug for slug, _ in _HTTP_SLUGS.values()),
    "http-error",
    "internal-error",
    "data-invalid",
    "not-ready",
]


def _every_error_class() -> list[type[DomainError]]:
    for module in pkgutil.walk_packages(fiscus.__path__, "fiscus."):
        importlib.import_module(module.name)
    return all_error_classes()


def test_every_slug_is_lower_kebab_case_with_the_subject_first() -> None:
    slugs = [cls.type_slug for cls in _every_error_class()] + LITERAL_SLUGS
    assert len(slugs) > 50  # every module's errors were found, not only core's
    for slug in slugs:
        assert KEBAB.match(slug), slug
        assert slug.split("-")[0] not in CONDITIONS, f"{slug}: subject first, condition last"


def test_every_error_class_has_its_own_slug_and_a_one_line_docstring() -> None:
    classes = _every_error_class()
    by_slug: dict[str, list[str]] = {}
    for cls in classes:
        by_slug.setdefault(cls.type_slug, []).append(f"{cls.__module__}.{cls.__name__}")
        summary = (cls.__doc__ or "").strip().splitlines()
        assert summary and summary[0].endswith("."), f"{cls.__name__} needs a one-line docstring"
    assert {s: names for s, names in by_slug.items() if len(names) > 1} == {}
    assert not set(by_slug) & set(RETIRED_SLUGS), "a retired slug is never reused"
    assert set(RETIRED_SLUGS.values()) <= set(by_slug) | set(LITERAL_SLUGS)


def test_every_domain_module_has_its_errors_module() -> None:
    root = Path(fiscus.__file__).parent
    for package in sorted(p for p in root.iterdir() if (p / "__init__.py").exists()):
        has_operations = any(
            (package / name).exists() for name in ("service.py", "service", "queries.py")
        )
        if package.name != "core" and has_operations:
            assert (package / "errors.py").exists(), f"{package.name} lacks errors.py"
