"""Money: minor units from CLDR, one half-up rounding rule, exact parsing, exact splits."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import MoneyError
from ledger.money import Money, allocate, minor_digits, percent_of, round_half_up, to_decimal


@pytest.mark.parametrize(("currency", "digits"), [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3), ("CLF", 4)])
def test_minor_digits_come_from_cldr(currency: str, digits: int) -> None:
    assert minor_digits(currency) == digits


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(MoneyError, match="unknown ISO 4217"):
        minor_digits("ABC")
    with pytest.raises(MoneyError):
        Money(1, "eur")


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("0.005", "EUR", "0.01"),
        ("-0.005", "EUR", "-0.01"),
        ("0.0049", "EUR", "0.00"),
        ("-0.0049", "EUR", "0.00"),
        ("0.015", "EUR", "0.02"),
        ("0.025", "EUR", "0.03"),  # banker's rounding would give 0.02
        ("2.5", "JPY", "3"),  # banker's rounding would give 2
        ("3.5", "JPY", "4"),
        ("-2.5", "JPY", "-3"),
        ("1.0005", "KWD", "1.001"),
        ("1.0004", "KWD", "1.000"),
    ],
)
def test_rounding_is_half_up_away_from_zero(value: str, currency: str, expected: str) -> None:
    assert str(Money.rounded(value, currency)) == expected


def test_round_half_up_on_exact_fractions() -> None:
    assert round_half_up(Fraction(1, 2)) == 1
    assert round_half_up(Fraction(-1, 2)) == -1
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(249, 100)) == 2
    assert round_half_up(Fraction(-251, 100)) == -3
    assert round_half_up(0) == 0


@pytest.mark.parametrize("bad", [0.1, 1.0, True, False])
def test_floats_and_booleans_are_refused(bad: object) -> None:
    with pytest.raises(MoneyError):
        to_decimal(bad)
    with pytest.raises(MoneyError):
        Money.of(bad, "EUR")
    with pytest.raises(MoneyError):
        Money.rounded(bad, "EUR")


@pytest.mark.parametrize("bad", ["abc", "", "NaN", "Infinity", None, [1]])
def test_non_amounts_are_refused(bad: object) -> None:
    with pytest.raises(MoneyError):
        Money.of(bad, "EUR")


def test_minor_units_must_be_an_int() -> None:
    with pytest.raises(MoneyError):
        Money(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(True, "EUR")


@pytest.mark.parametrize(
    ("value", "currency", "minor", "text"),
    [
        ("12.34", "EUR", 1234, "12.34"),
        (" 12.30 ", "EUR", 1230, "12.30"),
        ("-0.01", "EUR", -1, "-0.01"),
        (Decimal("7"), "EUR", 700, "7.00"),
        (5, "USD", 500, "5.00"),
        ("1500", "JPY", 1500, "1500"),
        ("1.500", "EUR", 150, "1.50"),  # trailing zeros are still exact
        ("1.234", "KWD", 1234, "1.234"),
        ("0.1", "KWD", 100, "0.100"),
    ],
)
def test_exact_to_and_from_minor_units(value: object, currency: str, minor: int, text: str) -> None:
    money = Money.of(value, currency)
    assert money == Money(minor, currency)
    assert str(money) == text
    assert Money.of(str(money), currency) == money
    assert money.amount == Decimal(text)


@pytest.mark.parametrize(("value", "currency"), [("0.001", "EUR"), ("1.5", "JPY"), ("1.2345", "KWD"), ("-0.005", "USD"),
                                                  # more digits than Decimal's 28: the last one must not be rounded away
                                                  ("1000000000000000000.000000000000000001", "USD")])
def test_too_many_decimals_are_refused(value: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="decimals"):
        Money.of(value, currency)


@given(minor=st.integers(-10**12, 10**12), currency=st.sampled_from(["JPY", "EUR", "KWD", "USD"]))
def test_printing_and_parsing_round_trip_exactly(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.of(str(money), currency) == money
    assert Money.rounded(str(money), currency) == money


def test_arithmetic_refuses_mixed_currencies() -> None:
    assert Money(150, "EUR") + Money(-50, "EUR") == Money(100, "EUR")
    assert Money(150, "EUR") - Money(200, "EUR") == Money(-50, "EUR")
    assert -Money(3, "JPY") == Money(-3, "JPY")
    assert Money(1, "EUR") < Money(2, "EUR")
    with pytest.raises(MoneyError, match="mismatch"):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(MoneyError):
        Money(1, "EUR") < Money(1, "USD")  # noqa: B015


@pytest.mark.parametrize(
    ("rate", "value_minor", "currency", "expected"),
    [
        ("20", 20000, "EUR", "40.00"),
        ("15", 9999, "USD", "15.00"),  # 14.9985 -> 15.00
        ("15", 3333, "USD", "5.00"),  # 4.9995 -> 5.00
        ("10", 5, "USD", "0.01"),  # 0.005 -> 0.01
        ("10", 4, "USD", "0.00"),
        ("12.5", 1234, "JPY", "154"),  # 154.25
        ("7.5", 1234567, "KWD", "92.593"),  # 92.592525
        ("33.3", 100, "JPY", "33"),
    ],
)
def test_percent_of_rounds_once(rate: str, value_minor: int, currency: str, expected: str) -> None:
    assert str(percent_of(Decimal(rate), value_minor, currency)) == expected


# -- allocate -----------------------------------------------------------------------------


@given(total=st.integers(-10**9, 10**9), weights=st.lists(st.integers(0, 10**6), min_size=1, max_size=8).filter(any))
def test_allocation_parts_sum_exactly_and_stay_near_their_share(total: int, weights: list[int]) -> None:
    parts = allocate(total, weights)
    assert sum(parts) == total
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights):
        exact = Fraction(total * weight, weight_sum)
        assert abs(part - exact) < 1
        if weight == 0:
            assert part == 0


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (5, [70, 30], [4, 1]),
        (5, [30, 70], [2, 3]),
        (1, [1, 1, 1], [1, 0, 0]),  # a tie goes to the weight listed first
        (2, [1, 1, 1], [1, 1, 0]),
        (5, [100, 200, 100], [1, 3, 1]),  # 1.25 / 2.5 / 1.25: the largest remainder wins
        (10, [0, 1, 1], [0, 5, 5]),
        (3, [0, 1, 1], [0, 2, 1]),  # zero weights get nothing, even with leftovers
        (-5, [70, 30], [-4, -1]),
        (-3, [0, 1, 1], [0, -2, -1]),
        (0, [0, 0], [0, 0]),
        (7, [3], [7]),
    ],
)
def test_allocation_examples(total: int, weights: list[int], parts: list[int]) -> None:
    assert allocate(total, weights) == parts


def test_allocation_refuses_impossible_splits() -> None:
    with pytest.raises(MoneyError):
        allocate(1, [0, 0])
    with pytest.raises(MoneyError):
        allocate(1, [1, -1])


@pytest.mark.timeout(2)
@pytest.mark.parametrize("value", ["1E-999999999", "1E+999999999", Decimal("1E-999999999"), Decimal("-1E+999999999"),
                                   "0." + "0" * 18 + "1", "1" + "0" * 19, Decimal("0E-1000000")])
def test_every_way_in_refuses_values_no_arithmetic_should_meet(value) -> None:
    """Fraction(Decimal("1E-999999999")) would build a billion-digit integer and hang whoever
    computes with it: the one gate refuses it before anything can."""
    with pytest.raises(MoneyError, match="out of range"):
        to_decimal(value)
    with pytest.raises(MoneyError):
        Money.of(value, "USD")
    with pytest.raises(MoneyError):
        Money.rounded(value, "USD")
    with pytest.raises(MoneyError):
        percent_of(value, 100, "USD")


@pytest.mark.parametrize("value", ["999999999999999999", "0." + "0" * 17 + "1", Decimal("-12345.678901234567")])
def test_the_bounds_leave_every_real_amount_and_rate_alone(value) -> None:
    assert to_decimal(value) == Decimal(value)
