"""Money: exact amounts in a currency's minor units, one rounding rule, exact splits.

Why integers: a ledger must add up to the cent forever, and SQLite has no exact decimal
column. Every amount is an ``int`` count of the currency's minor unit (cents for EUR, yen
for JPY, fils/1000 for KWD). Decimals enter only at the edges (Shopify's strings, the CLI)
and leave only when printed.

The one rounding rule of the product: **half-up to the currency's minor unit**
(``ROUND_HALF_UP``; 0.005 EUR -> 0.01, 0.0049 -> 0.00). It is named here and used by
every caller; nothing else rounds money.

Minor-unit exponents come from Babel's CLDR currency data (maintained upstream, covers
JPY 0, KWD 3, CLF 4, ...), not from a hand-written table.

Bounded: every decimal enters through :func:`to_decimal`, which refuses values beyond
``MAX_ADJUSTED_EXPONENT`` / ``MIN_EXPONENT``. Arithmetic on money is done on exact
``Fraction``s of such values, so nothing is ever rounded by a decimal context and no input
can make it explode (``Fraction(Decimal("1E-999999999"))`` would build a billion-digit
integer and hang the worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import Sequence

from babel.numbers import get_currency_precision, list_currencies

from ledger.errors import MoneyError

ROUNDING = ROUND_HALF_UP
"""The product's single rounding rule (see module docstring)."""


@lru_cache(maxsize=None)
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@lru_cache(maxsize=None)
def minor_digits(currency: str) -> int:
    """Number of decimal digits of ``currency``'s minor unit (EUR 2, JPY 0, KWD 3)."""
    if currency not in _known_currencies():
        raise MoneyError(f"unknown ISO 4217 currency {currency!r}")
    return get_currency_precision(currency)


MAX_ADJUSTED_EXPONENT = 18
"""No money value or rate reaches 10**19 (a 64-bit minor-unit column ends near 9.2e18)."""
MIN_EXPONENT = -18
"""At most 18 decimal places: far finer than any currency's minor unit or any rate."""


def to_decimal(value: object) -> Decimal:
    """Parse a money value from Shopify or a person without ever going through float.

    Accepts ``str``, ``int`` and ``Decimal`` (JSON numbers must be parsed with
    ``parse_float=Decimal`` at the edge). Floats and booleans are refused: a float has
    already lost the exact value. Values beyond the module's bounds are refused before
    anything computes with them.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError(f"refusing {type(value).__name__} {value!r} as money: parse it as Decimal")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation as exc:
            raise MoneyError(f"not a decimal amount: {_shown(value)}") from exc
    else:
        raise MoneyError(f"not a money value: {_shown(value)}")
    if not result.is_finite():
        raise MoneyError(f"not a finite amount: {_shown(value)}")
    if result.adjusted() > MAX_ADJUSTED_EXPONENT or int(result.as_tuple().exponent) < MIN_EXPONENT:
        raise MoneyError(f"amount out of range: {_shown(value)}")
    return result


def _shown(value: object) -> str:
    """A bounded repr for messages: a typed-in value can be megabytes long."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def round_half_up(value: Fraction | Decimal | int) -> int:
    """Round an exact number to the nearest integer, halves away from zero."""
    exact = Fraction(value)
    magnitude = abs(exact)
    rounded = (magnitude.numerator * 2 + magnitude.denominator) // (magnitude.denominator * 2)
    return rounded if exact >= 0 else -rounded


@dataclass(frozen=True, order=False)
class Money:
    """An exact amount: ``minor`` units of ``currency``. Immutable; arithmetic returns new values."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise MoneyError(f"minor units must be an int, got {self.minor!r}")
        minor_digits(self.currency)  # validates the code

    # -- construction -------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def of(cls, value: object, currency: str) -> Money:
        """Exact amount from a decimal value; refuses values finer than the minor unit."""
        amount = to_decimal(value)
        scaled = Fraction(amount) * 10 ** minor_digits(currency)  # exact: Decimal arithmetic would round at 28 digits
        if scaled.denominator != 1:
            raise MoneyError(f"{amount} {currency} has more than {minor_digits(currency)} decimals")
        return cls(int(scaled), currency)

    @classmethod
    def rounded(cls, value: object, currency: str) -> Money:
        """Amount from any exact number, rounded half-up to the minor unit."""
        if isinstance(value, Fraction):
            exact = value
        else:
            exact = Fraction(to_decimal(value))
        return cls(round_half_up(exact * 10 ** minor_digits(currency)), currency)

    # -- views --------------------------------------------------------------------------
    @property
    def amount(self) -> Decimal:
        """The decimal amount, with exactly the currency's minor digits."""
        return Decimal(self.minor).scaleb(-minor_digits(self.currency))

    def __str__(self) -> str:
        """Decimal string with the currency's digits and sign, e.g. ``-20.00``."""
        return f"{self.amount:f}"

    # -- arithmetic ---------------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise MoneyError(f"cannot combine Money with {other!r}")
        if other.currency != self.currency:
            raise MoneyError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor


def percent_of(rate_percent: Decimal, value_minor: Fraction | int, currency: str) -> Money:
    """``rate_percent`` % of an exact value in minor units, rounded half-up once."""
    exact = Fraction(to_decimal(rate_percent)) * Fraction(value_minor) / 100
    return Money(round_half_up(exact), currency)


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` so the parts sum exactly.

    Largest-remainder method: each part gets the floor of its exact share, then the
    leftover units go one each to the largest fractional remainders; ties go to the
    weight listed first. A negative total is split as its magnitude, then negated.
    Zero weights get nothing. All weights zero with a non-zero total is an error.
    """
    if any(w < 0 for w in weights):
        raise MoneyError("allocation weights must not be negative")
    if total < 0:
        return [-part for part in allocate(-total, weights)]
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total == 0:
            return [0] * len(weights)
        raise MoneyError("cannot allocate a non-zero total over zero weights")
    floors = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    leftover = total - sum(floors)
    # Stable sort on the negated remainder keeps listing order among ties.
    for index in sorted(range(len(weights)), key=lambda i: -remainders[i])[:leftover]:
        floors[index] += 1
    assert sum(floors) == total
    return floors
