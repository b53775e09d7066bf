from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fiscus.core.errors import ValidationProblem
from fiscus.core.money import (
    MAX_MINOR,
    CurrencyMismatch,
    Money,
    MoneyModel,
    currency_exponent,
    parse_rate,
)


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("IQD", 3),
        ("CLF", 4),
    ],
)
def test_exponent_follows_iso_4217(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


@pytest.mark.parametrize("code", ["EURO", "eur", "XXX", "XAU", "ABC", ""])
def test_unknown_or_non_money_currency_is_refused(code: str) -> None:
    with pytest.raises(ValidationProblem):
        Money(1, code)


def test_addition_and_subtraction_stay_exact() -> None:
    total = Money(10, "EUR") + Money(20, "EUR") - Money(5, "EUR")
    assert total == Money(25, "EUR")
    assert -total == Money(-25, "EUR")
    assert abs(Money(-3, "JPY")) == Money(3, "JPY")


def test_mixed_currencies_are_refused_in_arithmetic_and_comparison() -> None:
    with pytest.raises(CurrencyMismatch):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "EUR") < Money(2, "USD")


@pytest.mark.parametrize("bad", [1.5, True, "12", Decimal("1"), None])
def test_amount_must_be_a_plain_integer(bad: object) -> None:
    with pytest.raises(ValidationProblem):
        Money(bad, "EUR")  # type: ignore[arg-type]


def test_amount_beyond_bigint_is_refused() -> None:
    assert Money(MAX_MINOR, "EUR").amount_minor == MAX_MINOR
    with pytest.raises(ValidationProblem):
        Money(MAX_MINOR + 1, "EUR")


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.345", "EUR", 1234),
        ("12.355", "EUR", 1236),
        ("1234.5", "JPY", 1234),
        ("1.2345", "BHD", 1234),
        ("-0.005", "EUR", 0),
        ("0.015", "EUR", 2),
    ],
)
def test_from_decimal_rounds_half_even(text: str, currency: str, minor: int) -> None:
    assert Money.from_decimal(text, currency, rounding=ROUND_HALF_EVEN).amount_minor == minor


def test_from_decimal_uses_the_named_rounding() -> None:
    assert Money.from_decimal("12.345", "EUR", rounding=ROUND_HALF_UP).amount_minor == 1235


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "abc", "1e309x"])
def test_from_decimal_refuses_non_numbers(bad: str) -> None:
    with pytest.raises(ValidationProblem):
        Money.from_decimal(bad, "EUR", rounding=ROUND_HALF_EVEN)


def test_to_decimal_is_exact() -> None:
    assert Money(12345, "EUR").to_decimal() == Decimal("123.45")
    assert Money(12345, "JPY").to_decimal() == Decimal("12345")
    assert Money(12345, "BHD").to_decimal() == Decimal("12.345")


@pytest.mark.parametrize(
    ("money", "locale", "text"),
    [
        (Money(123456, "EUR"), "en_US", "€1,234.56"),
        (Money(123456, "EUR"), "de_DE", "1.234,56\xa0€"),
        (Money(123456, "JPY"), "en_US", "¥123,456"),
        (Money(123456, "JPY"), "ja_JP", "￥123,456"),
        (Money(123456, "BHD"), "en_US", "BHD123.456"),
        (Money(-500, "USD"), "en_US", "-$5.00"),
    ],
)
def test_format_uses_locale_and_iso_digits(money: Money, locale: str, text: str) -> None:
    assert money.format(locale) == text


def test_multiply_refuses_float_and_rounds_as_told() -> None:
    assert Money(1000, "EUR").multiply(Decimal("0.0425"), rounding=ROUND_HALF_EVEN) == Money(
        42, "EUR"
    )
    with pytest.raises(TypeError):
        Money(1000, "EUR").multiply(0.5, rounding=ROUND_HALF_EVEN)  # type: ignore[arg-type]


@given(
    amount=st.integers(min_value=-(10**15), max_value=10**15),
    weights=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=20).filter(
        lambda w: sum(w) > 0
    ),
)
def test_allocate_never_loses_or_invents_a_minor_unit(amount: int, weights: list[int]) -> None:
    parts = Money(amount, "EUR").allocate(weights)
    assert sum(p.amount_minor for p in parts) == amount
    assert len(parts) == len(weights)
    for part, weight in zip(parts, weights, strict=True):
        if weight == 0:
            assert part.amount_minor == 0
        exact = Decimal(abs(amount)) * weight / sum(weights)
        assert abs(abs(part.amount_minor) - exact) < 1


def test_allocate_gives_leftover_to_largest_remainders() -> None:
    assert [m.amount_minor for m in Money(100, "EUR").allocate([1, 1, 1])] == [34, 33, 33]


def test_money_model_round_trips_and_refuses_bad_input() -> None:
    model = MoneyModel(amount=1234, currency="EUR")
    assert model.to_money() == Money(1234, "EUR")
    assert MoneyModel.of(Money(5, "JPY")).model_dump() == {"amount": 5, "currency": "JPY"}
    for bad in [
        {"amount": 1.5, "currency": "EUR"},
        {"amount": "12", "currency": "EUR"},
        {"amount": 1, "currency": "ZZZ"},
        {"amount": 2**63, "currency": "EUR"},
    ]:
        with pytest.raises(ValueError, match="validation error"):
            MoneyModel.model_validate(bad)


@pytest.mark.parametrize("bad", ["NaN", "inf", "x", 0.5])
def test_parse_rate_refuses_non_finite_and_floats(bad: object) -> None:
    with pytest.raises(ValidationProblem):
        parse_rate(bad)  # type: ignore[arg-type]
    assert parse_rate("0.0425") == Decimal("0.0425")
