"""Password rules (NIST SP 800-63B) and argon2id hashing."""

from __future__ import annotations

import pytest

from fiscus.identity.errors import WeakPassword
from fiscus.identity.passwords import (
    common_passwords,
    password_check,
    password_hash,
    password_verify,
)


@pytest.mark.parametrize("bad", ["short", "1234567", "password1", "Qwertyuiop", "x" * 129])
def test_short_long_and_common_passwords_are_refused(bad: str) -> None:
    with pytest.raises(WeakPassword):
        password_check(bad)


@pytest.mark.parametrize(
    "good",
    [
        "correct horse battery",
        "пароль-очень-длинный",
        "🔐🔐🔐🔐🔐🔐🔐🔐",
        "no rules at all",
        "x" * 128,
    ],
)
def test_any_unicode_from_8_to_128_characters_is_accepted(good: str) -> None:
    assert password_check(good)


def test_hash_is_argon2id_and_never_truncates() -> None:
    long = "a" * 100 + "b" * 28
    stored = password_hash(long)
    assert stored.startswith("$argon2id$")
    assert password_verify(stored, long)
    assert not password_verify(stored, "a" * 100 + "b" * 27 + "c")


def test_nfkc_normalisation_makes_equivalent_forms_match() -> None:
    stored = password_hash("ﬁne password")  # the "fi" ligature
    assert password_verify(stored, "fine password")


def test_missing_hash_verifies_false() -> None:
    assert password_verify(None, "anything at all") is False


def test_the_common_list_is_bundled() -> None:
    assert len(common_passwords()) > 100
    assert "password123" in common_passwords()
