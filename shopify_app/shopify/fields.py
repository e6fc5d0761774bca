"""The atoms of Shopify payloads: ids, amounts, counts, timestamps, bounded text and lists,
shop money. Each rule and each bound is written once, here, and every model uses them.

Why before-validators on a plain inner type: pydantic's own coercions are too kind for
money (a float becomes a Decimal, ``"1e5"`` an amount, ``1700000000`` a datetime,
``"true"`` a bool). Each validator below accepts exactly the JSON Shopify sends, as read
by ``body.parse_json``, and says in one line why anything else is refused.

Why bounds everywhere: a payload value can be megabytes or a billion-digit exponent. Every
value a payload can set is bounded far above anything Shopify sends, so arithmetic stays
exact and cheap and a stored value always fits its column.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from ledger.errors import MoneyError
from ledger.money import minor_digits, to_decimal

T = TypeVar("T")
Loc = tuple[str | int, ...]
"""A path inside a payload, as pydantic spells it: ``("line_items", 0, "price")``."""

MAX_ID = 2**63 - 1  # Shopify ids are 64-bit
MAX_QUANTITY = 10**6
MAX_ITEMS = 10_000
# Amounts below 10**16 with at most 6 decimals (22 digits): a price times a quantity then
# fits the 28 digits of Decimal's default context, so it is never rounded, and
# ``1E+999999999`` never reaches ``Money.rounded`` (a billion-digit integer).
_MAX_ADJUSTED_EXPONENT = 15
_MIN_EXPONENT = -6
_MAX_AMOUNT_CHARS = 64  # refused before Decimal() reads it: far more than 16 + 6 digits
CODE_CHARS = 255  # discount codes, statuses, kinds, currency codes, scopes, domains
EMAIL_CHARS = 320  # RFC 5321: 64 + @ + 255
TITLE_CHARS = 1_000  # titles and names
LONG_TEXT_CHARS = 10_000  # URLs and note attribute values
MAX_LINE_VALUE = Decimal(10**12)
"""A line worth a trillion is no real order, nor is a refund, discount or tax totalling that
much: the limit keeps every minor-unit amount (KWD has 3 decimals) far inside the ledger's
64-bit integer columns and ``ledger.money``'s bounds, so no snapshot fails there later."""

FIELD_ERROR = "shopify_field"
"""The pydantic error type of :func:`field_error`; its context carries the path below."""


def dotted(loc: Loc) -> str:
    """``("line_items", 0, "price")`` -> ``line_items[0].price``: how messages name a field."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def show(value: Any) -> str:
    """A bounded repr for messages: a payload value can be megabytes long."""
    if isinstance(value, str) and len(value) > 80:
        value = value[:80]  # cut before repr: no copy of a megabyte just to print 80 chars
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def field_error(loc: Loc, reason: str) -> PydanticCustomError:
    """An error for a rule that spans fields, raised by a model validator: ``loc`` is the
    field it names, below the model that raises it, so the message path still ends at the
    field (``refunds[1].order_id``) and not at the object holding it."""
    return PydanticCustomError(FIELD_ERROR, "{reason}", {"reason": reason, "loc": loc})


class Model(BaseModel):
    """Base of every payload model. ``extra="ignore"``: Shopify adds fields in every API
    version and only what is declared is read. Frozen: a validated payload is a fact.

    A value derived from several fields (``processed_at`` else ``created_at``) is read by a
    method that raises :func:`field_error` when the payload cannot give it; the model's
    after-validator calls that method once, so after validation it cannot fail.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)


def either(model: BaseModel, first: str, second: str) -> Any:
    """Field ``first``, else field ``second``: Shopify states some facts in one of two
    fields (``processed_at`` else ``created_at``). Refused, naming both, when neither is."""
    value = getattr(model, first)
    if value is None:
        value = getattr(model, second)
    if value is None:
        raise field_error((), f"{first} and {second} both missing")
    return value


# -- ids -------------------------------------------------------------------------------------

_MAX_ID_CHARS = 200  # a gid is ~50: longer is refused before any regex reads it
_DIGITS = re.compile(r"[0-9]{1,19}")
_GID = re.compile(r"gid://shopify/[A-Za-z]+/([0-9]{1,19})")


def shopify_id(value: Any) -> str:
    """The one id rule: a JSON integer, a digit string or a ``gid://shopify/Type/123``,
    worth 1..2**63-1, as its decimal string (so ``7``, ``"7"`` and a gid of 7 are one id).
    Bools, Decimals, empty and longer strings are refused."""
    if value is None:
        raise ValueError("missing")  # a null id is no id
    if type(value) is int:
        number = value
    elif isinstance(value, str) and len(value) <= _MAX_ID_CHARS:
        text = value.strip()
        gid = _GID.fullmatch(text)
        digits = gid.group(1) if gid else text
        if not _DIGITS.fullmatch(digits):
            raise ValueError(f"not a Shopify id: {show(value)}")
        number = int(digits)
    else:
        raise ValueError(f"not a Shopify id: {show(value)}")
    if not 0 < number <= MAX_ID:
        raise ValueError(f"Shopify id out of range 1..2**63-1: {show(value)}")
    return str(number)


ShopifyId = Annotated[str, BeforeValidator(shopify_id)]


# -- amounts and counts ----------------------------------------------------------------------

_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _amount(value: Any) -> Decimal:
    """An exact amount from a plain decimal string (``"89.99"``) or a JSON number (already
    ``Decimal`` or ``int``): the ledger's own gate (``ledger.money.to_decimal``: never a float,
    finite, bounded), then what a payload may hold (at most 10**15, at most 6 decimals)."""
    if isinstance(value, str):
        text = value.strip()
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise ValueError(f"not a decimal amount: {show(value)}")
        if len(text) > _MAX_AMOUNT_CHARS:
            raise ValueError(f"amount out of range: {show(value)}")
    try:
        amount = to_decimal(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None
    if amount.adjusted() > _MAX_ADJUSTED_EXPONENT or int(amount.as_tuple().exponent) < _MIN_EXPONENT:
        raise ValueError(f"amount out of range: {show(value)}")
    return amount


Amount = Annotated[Decimal, BeforeValidator(_amount)]


def real_value(loc: Loc, what: str, value: Decimal) -> Decimal:
    """``value`` when a real order can hold it, else refused naming ``loc``. Each amount is
    bounded alone, but a price times a quantity, or the sum of 10,000 amounts, is not."""
    if abs(value) >= MAX_LINE_VALUE:
        raise field_error(loc, f"{what} {value} is beyond any real order (limit {MAX_LINE_VALUE})")
    return value


def real_total(loc: Loc, amounts: Iterable[Decimal]) -> Decimal:
    """The sum of ``amounts`` (the items of the list at ``loc``), refused by :func:`real_value`."""
    return real_value(loc, "total", sum(amounts, Decimal(0)))


def _count(minimum: int) -> Callable[[Any], int]:
    def count(value: Any) -> int:
        """A JSON integer within [minimum, 10**6] (a quantity, a delta, a total)."""
        if type(value) is not int:
            raise ValueError(f"expected an integer, got {show(value)}")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {show(value)}")
        if value > MAX_QUANTITY:
            raise ValueError(f"more than {MAX_QUANTITY}: {show(value)}")
        return value

    return count


Quantity = Annotated[int, BeforeValidator(_count(0))]
PositiveQuantity = Annotated[int, BeforeValidator(_count(1))]


def _flag(value: Any) -> bool:
    if type(value) is not bool:  # pydantic alone would take "true", 1, "yes"
        raise ValueError(f"expected true or false, got {show(value)}")
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]


# -- time ------------------------------------------------------------------------------------


def _timestamp(value: Any) -> datetime:
    """ISO 8601 with a UTC offset. A naive time is an ambiguous instant; a number is
    refused too (pydantic alone would read it as a unix time)."""
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 timestamp, got {show(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {show(value)}") from None
    if parsed.utcoffset() is None:
        raise ValueError(f"timestamp has no UTC offset: {show(value)}")
    return parsed


Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]


# -- text ------------------------------------------------------------------------------------


def _bounded(value: Any, limit: int) -> str | None:
    """``value`` if it is a non-blank string, else None; refused when over ``limit``.

    This is the rule of informational text (a title, a code, an email), kept from how
    Shopify has always been read here: a blank or non-string value reads as absent, and a
    value is kept unstripped.
    """
    if not isinstance(value, str):
        return None
    if len(value) > limit:
        raise ValueError(f"longer than {limit} characters: {show(value)}")
    return value if value.strip() else None


def _required_text(limit: int) -> Callable[[Any], str]:
    """Text the payload cannot do without: a non-empty string, stripped, else refused."""

    def text(value: Any) -> str:
        found = _bounded(value, limit)
        if found is None:
            raise ValueError(f"expected a non-empty string, got {show(value)}")
        return found.strip()

    return text


read_code = _required_text(CODE_CHARS)
Code = Annotated[str, BeforeValidator(read_code)]
Domain = Code
OptCode = Annotated[str | None, BeforeValidator(partial(_bounded, limit=CODE_CHARS))]
OptEmail = Annotated[str | None, BeforeValidator(partial(_bounded, limit=EMAIL_CHARS))]
OptTitle = Annotated[str | None, BeforeValidator(partial(_bounded, limit=TITLE_CHARS))]
OptLongText = Annotated[str | None, BeforeValidator(partial(_bounded, limit=LONG_TEXT_CHARS))]


def _currency(value: Any) -> str:
    """An ISO 4217 code the ledger knows the minor unit of (EUR 2, JPY 0, KWD 3)."""
    code = read_code(value)
    try:
        minor_digits(code)
    except MoneyError:
        raise ValueError(f"not an ISO 4217 currency the ledger knows: {show(code)}") from None
    return code


Currency = Annotated[str, BeforeValidator(_currency)]


# -- lists -----------------------------------------------------------------------------------


def _array(value: Any) -> Any:
    if not isinstance(value, list):
        raise ValueError(f"expected an array, got {'null' if value is None else type(value).__name__}")
    if len(value) > MAX_ITEMS:
        raise ValueError(f"more than {MAX_ITEMS} items")
    return value


def _items(value: Any) -> Any:
    return () if value is None else _array(value)


Array = Annotated[tuple[T, ...], BeforeValidator(_array)]
"""A JSON array of at most 10,000 items that must be there."""
Items = Annotated[tuple[T, ...], BeforeValidator(_items)]
"""A JSON array of at most 10,000 items; null means none (Shopify omits empty lists at times)."""


# -- shop money ------------------------------------------------------------------------------


class ShopMoney(Model):
    amount: Amount
    currency_code: Code | None = None
    currency: Code | None = None  # order_transactions spell it so

    @property
    def code(self) -> str | None:
        return self.currency_code or self.currency


class MoneySet(Model):
    """A ``<field>_set`` bag. Only ``shop_money`` is read: presentment money is what the
    buyer saw, in their currency, and never what the shop earned."""

    shop_money: ShopMoney


class MoneyItem(Model):
    """An object with amounts in shop money: ``<field>_set.shop_money.amount`` when the bag
    is there, else the plain ``<field>`` (which Shopify gives in shop currency). Both
    fields are declared on the subclass; ``required_money`` names those that must be
    there in one form or the other."""

    required_money: ClassVar[tuple[str, ...]] = ()

    def amount_of(self, field: str) -> Decimal | None:
        bag: MoneySet | None = getattr(self, f"{field}_set")
        return getattr(self, field) if bag is None else bag.shop_money.amount

    def required_amount(self, field: str) -> Decimal:
        amount = self.amount_of(field)
        if amount is None:
            raise field_error((), f"neither {field}_set.shop_money.amount nor {field} present")
        return amount

    def currency_of(self, field: str) -> tuple[Loc, str] | None:
        """The currency ``<field>_set.shop_money`` names, with the path of the key naming it."""
        bag: MoneySet | None = getattr(self, f"{field}_set")
        if bag is None or bag.shop_money.code is None:
            return None
        key = "currency_code" if bag.shop_money.currency_code else "currency"
        return (f"{field}_set", "shop_money", key), bag.shop_money.code

    @model_validator(mode="after")
    def _required_money_present(self) -> MoneyItem:
        for field in self.required_money:
            self.required_amount(field)
        return self


def currencies(fields: Iterable[tuple[Loc, MoneyItem, str]]) -> Iterator[tuple[Loc, str]]:
    """Each currency named by the shop money of ``(path, item, field)``, with its full path."""
    for loc, item, field in fields:
        found = item.currency_of(field)
        if found is not None:
            yield loc + found[0], found[1]


def one_currency(found: Iterable[tuple[Loc, str]], expected: tuple[str, str] | None = None) -> str | None:
    """The one currency of ``found`` (``(path, code)`` pairs), None when it names none; a
    second one is refused, naming its path: two currencies would make every sum meaningless.
    ``expected`` is ``(code, what it is)`` when the currency is known beforehand (the
    order's); else the first one found is the expected one."""
    first = expected
    for loc, code in found:
        if first is None:
            first = code, f"the currency of {dotted(loc)}"
        elif code != first[0]:
            raise field_error(loc, f"{show(code)} is not {first[0]!r}, {first[1]}")
    return None if first is None else first[0]
