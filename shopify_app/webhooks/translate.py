"""Shopify webhook JSON -> typed policy inputs. The ONE place that reads Shopify payloads.

Why one place: Shopify's payloads are loose (amounts as strings in one place and JSON
numbers in another, shop and presentment money side by side, thin bodies that need a
fetch). Everything past this module works with the exact, typed events of
``policy.events``; nothing else looks inside a payload, so each Shopify quirk is handled
once, here, and tested against Shopify's own samples.

Rules kept everywhere below:

* Bytes -> ``dict`` only through :func:`parse_json`: JSON numbers become ``Decimal`` (or
  ``int``), never ``float``; invalid UTF-8, invalid JSON, a non-object body and strings
  PostgreSQL cannot store are refused with :class:`PayloadError`.
* Money is always **shop money**: ``<field>_set.shop_money.amount`` when the ``_set`` is
  there, else the plain ``<field>`` (which Shopify gives in shop currency). Presentment
  money is never read. The currency is the order's ``currency`` (the shop currency).
* A malformed field raises :class:`PayloadError` naming the field; a valid payload that is
  too thin to build an event (an edit or exchange line not on the order snapshot yet, a
  return whose lines the webhook left out) raises :class:`NeedsFetch`, so the caller can
  fetch the resource from Shopify and retry instead of failing the delivery.

Pure: no clock, no I/O, no framework; time always comes from the payload or the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping

from ledger.errors import MoneyError
from ledger.money import Money, minor_digits, to_decimal
from policy.attribution import Clues
from policy.events import (
    AddedLine,
    DisputeChanged,
    ExchangeProcessed,
    OrderCancelled,
    OrderEdited,
    OrderFulfilled,
    OrderPaid,
    Referral,
    RefundCreated,
    RefundLine,
    ReturnedLine,
    SaleLine,
)

__all__ = [
    "PAID_STATUSES",
    "EditDelta",
    "NeedsFetch",
    "OrderSnapshot",
    "PayloadError",
    "ReturnSnapshot",
    "business_key",
    "dispute_from_payload",
    "edit_from_payload",
    "edit_notice",
    "exchange_notice",
    "order_from_payload",
    "order_id_of",
    "parse_json",
    "refund_from_payload",
    "return_from_payload",
]


class PayloadError(ValueError):
    """The body is not a payload Shopify sends: bad bytes, or a field missing or malformed.

    Retrying cannot help; the message is one line and names the field, so the delivery can
    be marked failed with a reason a person can act on.
    """


class NeedsFetch(LookupError):
    """The payload is valid but too thin for its event: fetch the order (or the return)
    from Shopify and translate again. Retrying with fresher data can help, so it is not a
    :class:`PayloadError`."""


PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
"""``financial_status`` values that show an order paid (interfaces.md, "Attribution")."""

# -- bytes -> dict ---------------------------------------------------------------------------

# NUL cannot be stored in PostgreSQL text; a lone surrogate (from a "\ud800" escape) cannot
# even be encoded as UTF-8. Both would fail later, far from the cause, so refuse them here.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise PayloadError(f"JSON constant {name} is not a number")


def parse_json(raw: bytes) -> dict[str, Any]:
    """Decode a webhook body exactly: numbers as ``Decimal``/``int``, never ``float``.

    Decodes UTF-8 explicitly (``json.loads`` on bytes would silently accept UTF-16/32),
    refuses ``NaN``/``Infinity`` (not JSON, and not money), a top level that is not an
    object, and NUL characters or lone surrogates in any key or string.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse_json takes the raw body bytes, got {type(raw).__name__}")
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"body is not valid UTF-8 (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_float=Decimal, parse_int=int, parse_constant=_refuse_constant)
    except PayloadError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digit limit, deep nesting
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"body is a JSON {type(data).__name__}, not an object")
    stack: list[Any] = [data]
    while stack:  # iterative: a deep payload must not overflow the Python stack here
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                _check_storable(key)
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            _check_storable(item)
    return data


def _check_storable(text: str) -> None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return
    if found.group() == "\x00":
        raise PayloadError("NUL character in a string: PostgreSQL text cannot store it")
    raise PayloadError("unpaired surrogate in a string: not storable as UTF-8")


# -- field readers: each names the field it failed on ----------------------------------------

_DIGITS = re.compile(r"[0-9]{1,30}")
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Bounds far beyond any real order, so that arithmetic downstream stays exact and cheap:
# amounts below 10**16 with at most 6 decimals (22 digits; 1E+999999999 would make
# Money.rounded build a billion-digit integer), quantities up to 10**6 (a price times a
# quantity then fits the 28 digits of Decimal's default context, so it is never rounded).
_MAX_ADJUSTED_EXPONENT = 15
_MIN_EXPONENT = -6
_MAX_QUANTITY = 10**6
MAX_LINE_VALUE = Decimal(10**12)
"""A line worth a trillion is no real order; the limit keeps every minor-unit amount (KWD has
3 decimals) far inside the ledger's 64-bit integer columns."""


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where}: expected an object, got {_kind(value)}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    """A JSON array; a missing or null one is empty (Shopify omits empty lists at times)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where}: expected an array, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _id(value: Any, where: str) -> str:
    """A Shopify id as a string: a JSON integer, a digit string, or a ``gid://`` whose last
    segment is digits. Anything else (a Decimal, a bool, an empty string) is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise PayloadError(f"{where}: id must be positive, got {value}")
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("gid://"):
            text = text.rsplit("/", 1)[-1]
        if _DIGITS.fullmatch(text):
            return text
    raise PayloadError(f"{where}: not a Shopify id: {_show(value)}")


def _required_id(obj: Mapping[str, Any], key: str, where: str) -> str:
    if obj.get(key) is None:
        raise PayloadError(f"{where}.{key}: missing")
    return _id(obj[key], f"{where}.{key}")


def _int(value: Any, where: str, minimum: int = 0) -> int:
    """A count (quantity, delta, total): a JSON integer within [minimum, 10**6]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"{where}: expected an integer, got {_show(value)}")
    if value < minimum:
        raise PayloadError(f"{where}: must be at least {minimum}, got {value}")
    if value > _MAX_QUANTITY:
        raise PayloadError(f"{where}: more than {_MAX_QUANTITY}: {_show(value)}")
    return value


def _show(value: Any) -> str:
    """A bounded repr for messages: a payload value can be megabytes long."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{where}: expected a non-empty string, got {_show(value)}")
    return value.strip()


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _time(value: Any, where: str) -> datetime:
    """An ISO 8601 timestamp with an offset; a naive one is refused (ambiguous instant)."""
    if not isinstance(value, str):
        raise PayloadError(f"{where}: expected an ISO 8601 timestamp, got {_show(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PayloadError(f"{where}: not an ISO 8601 timestamp: {_show(value)}") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise PayloadError(f"{where}: timestamp has no UTC offset: {_show(value)}")
    return parsed


def _opt_time(value: Any, where: str) -> datetime | None:
    return None if value is None else _time(value, where)


def _first_time(obj: Mapping[str, Any], keys: tuple[str, ...], where: str) -> datetime | None:
    for key in keys:
        if obj.get(key) is not None:
            return _time(obj[key], f"{where}: {key}")
    return None


def _amount(value: Any, where: str) -> Decimal:
    """An exact amount from a string (``"89.99"``) or a JSON number (already ``Decimal``)."""
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value.strip()):
        raise PayloadError(f"{where}: not a decimal amount: {_show(value)}")
    try:
        amount = to_decimal(value)
    except MoneyError as exc:
        raise PayloadError(f"{where}: {str(exc)[:120]}") from None
    if amount.adjusted() > _MAX_ADJUSTED_EXPONENT or int(amount.as_tuple().exponent) < _MIN_EXPONENT:
        raise PayloadError(f"{where}: amount out of range: {_show(value)}")
    return amount


def _opt_money(obj: Mapping[str, Any], field: str, where: str, currency: str | None = None) -> Decimal | None:
    """Shop money of ``field``: ``<field>_set.shop_money.amount``, else the plain field,
    else None. Presentment money is never read.

    When ``currency`` is given, a ``shop_money`` in another currency is refused: it would
    mean the shop currency is not what we think, and every amount would be wrong.
    """
    bag = obj.get(f"{field}_set")
    if bag is not None:
        path = f"{where}.{field}_set.shop_money"
        shop = _obj(_obj(bag, f"{where}.{field}_set").get("shop_money"), path)
        code = shop.get("currency_code", shop.get("currency"))
        if currency is not None and code is not None and code != currency:
            raise PayloadError(f"{path}.currency_code: {_show(code)} is not the shop currency {currency!r}")
        if shop.get("amount") is None:
            raise PayloadError(f"{path}.amount: missing")
        return _amount(shop["amount"], f"{path}.amount")
    if obj.get(field) is not None:
        return _amount(obj[field], f"{where}.{field}")
    return None


def _money(obj: Mapping[str, Any], field: str, where: str, currency: str | None = None) -> Decimal:
    amount = _opt_money(obj, field, where, currency)
    if amount is None:
        raise PayloadError(f"{where}: neither {field}_set.shop_money.amount nor {field} present")
    return amount


def _sum_money(items: list[Any], field: str, where: str, currency: str | None = None) -> Decimal:
    total = Decimal(0)
    for index, item in enumerate(items):
        place = f"{where}[{index}]"
        total += _money(_obj(item, place), field, place, currency)
    return total


# -- orders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSnapshot:
    """What one order payload says about the order, typed and in shop money.

    Built from orders/create, orders/paid, orders/updated, orders/cancelled (and any
    full Order body, e.g. one fetched for reconciliation). It is a snapshot, not an event:
    the caller decides what it means (first paid payload -> :meth:`order_paid`; cancelled
    -> :meth:`order_cancelled`; ``refunds`` -> the refunds it carries; later snapshots price
    edits and exchanges).
    """

    order_id: str
    name: str
    currency: str  # the shop currency (the order's ``currency``)
    taxes_included: bool
    paid: bool  # financial_status paid / partially_refunded / refunded, or topic orders/paid
    lines: tuple[SaleLine, ...]
    clues: Clues
    processed_at: datetime
    cancelled_at: datetime | None
    fulfilled_at: datetime | None  # earliest successful fulfilment
    refunds: tuple[RefundCreated, ...]
    updated_at: datetime | None = None

    def line(self, line_item_id: str) -> SaleLine | None:
        return next((line for line in self.lines if line.line_item_id == line_item_id), None)

    def order_paid(self, referral: Referral | None, product_rates: tuple[tuple[str, Decimal], ...] = ()) -> OrderPaid:
        """The sale event. Attribution (who ``referral`` is) is the caller's: it needs the
        shop's affiliates, which a payload does not carry (see ``policy.attribution``)."""
        return OrderPaid(
            order_id=self.order_id,
            order_name=self.name,
            currency=self.currency,
            taxes_included=self.taxes_included,
            lines=self.lines,
            referral=referral,
            processed_at=self.processed_at,
            product_rates=tuple(product_rates),
        )

    def order_cancelled(self) -> OrderCancelled | None:
        return None if self.cancelled_at is None else OrderCancelled(self.order_id, self.cancelled_at)

    def order_fulfilled(self) -> OrderFulfilled | None:
        return None if self.fulfilled_at is None else OrderFulfilled(self.order_id, self.fulfilled_at)


def order_from_payload(payload: Mapping[str, Any], topic: str | None = None) -> OrderSnapshot:
    """Read a full Order body (bare, as webhooks send it; unwrap REST's ``{"order": …}``)."""
    order = _obj(payload, "order")
    order_id = _required_id(order, "id", "order")
    where = f"order {order_id}"
    currency = _str(order.get("currency"), f"{where}: currency")
    try:
        minor_digits(currency)
    except MoneyError as exc:
        raise PayloadError(f"{where}: currency: {exc}") from None
    taxes_included = order.get("taxes_included")
    if not isinstance(taxes_included, bool):
        # No default: guessing wrong would move every base by the tax.
        raise PayloadError(f"{where}: taxes_included: expected true or false, got {_show(taxes_included)}")
    lines = tuple(
        _sale_line(item, f"{where}: line_items[{index}]", currency)
        for index, item in enumerate(_list(_needed(order, "line_items", where), f"{where}: line_items"))
    )
    processed_at = _first_time(order, ("processed_at", "created_at"), where)
    if processed_at is None:
        raise PayloadError(f"{where}: processed_at and created_at both missing")
    return OrderSnapshot(
        order_id=order_id,
        name=order.get("name") if isinstance(order.get("name"), str) else "",
        currency=currency,
        taxes_included=taxes_included,
        paid=order.get("financial_status") in PAID_STATUSES or topic == "orders/paid",
        lines=lines,
        clues=_clues(order, where),
        processed_at=processed_at,
        cancelled_at=_opt_time(order.get("cancelled_at"), f"{where}: cancelled_at"),
        fulfilled_at=_fulfilled_at(order, where),
        refunds=tuple(
            refund_from_payload(_obj(refund, f"{where}: refunds[{index}]"), order_id_hint=order_id)
            for index, refund in enumerate(_list(order.get("refunds"), f"{where}: refunds"))
        ),
        updated_at=_opt_time(order.get("updated_at"), f"{where}: updated_at"),
    )


def _needed(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if obj.get(key) is None:
        raise PayloadError(f"{where}: {key} missing")
    return obj[key]


def _sale_line(raw: Any, where: str, currency: str) -> SaleLine:
    item = _obj(raw, where)
    gift_card = item.get("gift_card", False)
    if not isinstance(gift_card, bool):
        raise PayloadError(f"{where}.gift_card: expected true or false, got {_show(gift_card)}")
    product_id = item.get("product_id")
    title = _opt_str(item.get("title")) or _opt_str(item.get("name")) or ""
    quantity = _int(item.get("quantity"), f"{where}.quantity")
    unit_price = _money(item, "price", where, currency)
    if abs(unit_price * quantity) >= MAX_LINE_VALUE:
        raise PayloadError(f"{where}: price x quantity {unit_price * quantity} is beyond any real order (limit {MAX_LINE_VALUE})")
    return SaleLine(
        line_item_id=_required_id(item, "id", where),
        quantity=quantity,
        unit_price=unit_price,
        discount=_sum_money(_list(item.get("discount_allocations"), f"{where}.discount_allocations"),
                            "amount", f"{where}.discount_allocations", currency),
        tax=_sum_money(_list(item.get("tax_lines"), f"{where}.tax_lines"), "price", f"{where}.tax_lines", currency),
        title=title,
        product_id=None if product_id is None else _id(product_id, f"{where}.product_id"),
        gift_card=gift_card,
    )


def _clues(order: Mapping[str, Any], where: str) -> Clues:
    """Everything attribution looks at (interfaces.md, "Attribution of orders")."""
    codes: list[str] = []
    for index, entry in enumerate(_list(order.get("discount_codes"), f"{where}: discount_codes")):
        code = _opt_str(_obj(entry, f"{where}: discount_codes[{index}]").get("code"))
        if code:
            codes.append(code)
    for index, entry in enumerate(_list(order.get("discount_applications"), f"{where}: discount_applications")):
        application = _obj(entry, f"{where}: discount_applications[{index}]")
        code = _opt_str(application.get("code"))
        if application.get("type") == "discount_code" and code:
            codes.append(code)
    ref = None
    for index, entry in enumerate(_list(order.get("note_attributes"), f"{where}: note_attributes")):
        attribute = _obj(entry, f"{where}: note_attributes[{index}]")
        name = attribute.get("name")
        if isinstance(name, str) and name.strip().casefold() == "ref":
            ref = _opt_str(attribute.get("value"))
            if ref:
                break
    customer = order.get("customer")
    emails = [order.get("email"), order.get("contact_email")]
    if isinstance(customer, dict):
        emails.append(customer.get("email"))
    return Clues(
        discount_codes=tuple(dict.fromkeys(codes)),
        ref_attribute=ref,
        landing_site=_opt_str(order.get("landing_site")),
        buyer_emails=tuple(dict.fromkeys(e for e in map(_opt_str, emails) if e)),
    )


def _fulfilled_at(order: Mapping[str, Any], where: str) -> datetime | None:
    """Earliest ``created_at`` of a fulfilment with status ``success`` (failed and
    cancelled fulfilments never started the clock)."""
    times = []
    for index, entry in enumerate(_list(order.get("fulfillments"), f"{where}: fulfillments")):
        fulfilment = _obj(entry, f"{where}: fulfillments[{index}]")
        if fulfilment.get("status") == "success":
            times.append(_time(fulfilment.get("created_at"), f"{where}: fulfillments[{index}].created_at"))
    return min(times, default=None)


# -- refunds ---------------------------------------------------------------------------------


def refund_from_payload(payload: Mapping[str, Any], order_id_hint: str | None = None) -> RefundCreated:
    """A refunds/create body (the bare Refund object) or one of an order's ``refunds[]``.

    ``discrepancy`` keeps Shopify's sign (negative: refunded beyond the lines). Shipping is
    ``refund_shipping_lines`` (API 2024-10+) plus ``shipping_refund`` adjustments (older),
    whose amount Shopify signs negative: the magnitude is kept, for the history only.
    """
    refund = _obj(payload, "refund")
    refund_id = _required_id(refund, "id", "refund")
    where = f"refund {refund_id}"
    order_id = _id(refund["order_id"], f"{where}: order_id") if refund.get("order_id") is not None else None
    if order_id is not None and order_id_hint is not None and order_id != order_id_hint:
        raise PayloadError(f"{where}: order_id {order_id} is not the expected order {order_id_hint}")
    order_id = order_id or order_id_hint
    if order_id is None:
        raise PayloadError(f"{where}: order_id missing")
    created_at = _first_time(refund, ("created_at", "processed_at"), where)
    if created_at is None:
        raise PayloadError(f"{where}: created_at and processed_at both missing")

    lines = []
    for index, entry in enumerate(_list(refund.get("refund_line_items"), f"{where}: refund_line_items")):
        place = f"{where}: refund_line_items[{index}]"
        item = _obj(entry, place)
        line_item_id = item.get("line_item_id")
        if line_item_id is None and isinstance(item.get("line_item"), dict):
            line_item_id = item["line_item"].get("id")
        if line_item_id is None:
            raise PayloadError(f"{place}.line_item_id: missing")
        tax = _opt_money(item, "total_tax", place)
        lines.append(RefundLine(
            line_item_id=_id(line_item_id, f"{place}.line_item_id"),
            quantity=_int(item.get("quantity"), f"{place}.quantity"),
            subtotal=_opt_money(item, "subtotal", place),
            total_tax=Decimal(0) if tax is None else tax,
        ))

    discrepancy = Decimal(0)
    shipping = Decimal(0)
    for index, entry in enumerate(_list(refund.get("order_adjustments"), f"{where}: order_adjustments")):
        place = f"{where}: order_adjustments[{index}]"
        adjustment = _obj(entry, place)
        kind = adjustment.get("kind")
        if kind == "refund_discrepancy":
            discrepancy += _money(adjustment, "amount", place)
        elif kind == "shipping_refund":
            shipping += abs(_money(adjustment, "amount", place))
        # Shopify documents no other kind; an unknown one moves no commission either.
    for index, entry in enumerate(_list(refund.get("refund_shipping_lines"), f"{where}: refund_shipping_lines")):
        place = f"{where}: refund_shipping_lines[{index}]"
        shipping += _money(_obj(entry, place), "subtotal_amount", place)

    return RefundCreated(
        refund_id=refund_id,
        order_id=order_id,
        lines=tuple(lines),
        created_at=created_at,
        discrepancy=discrepancy,
        shipping=shipping,
    )


# -- disputes --------------------------------------------------------------------------------


def dispute_from_payload(payload: Mapping[str, Any]) -> DisputeChanged:
    """A disputes/create or disputes/update body.

    ``amount`` is in the dispute's own ``currency`` (payloads carry no shop money for
    disputes); it is informational, the policy zeroes or restores the whole order. A dispute
    with a null ``order_id`` (Shopify lists such) concerns no order: PayloadError, and
    :func:`order_id_of` returns None for it first. ``occurred_at`` is the latest known
    change: ``finalized_on`` once set, else ``initiated_at``.
    """
    dispute = _obj(payload, "dispute")
    dispute_id = _required_id(dispute, "id", "dispute")
    where = f"dispute {dispute_id}"
    if dispute.get("order_id") is None:
        raise PayloadError(f"{where}: order_id is null: the dispute concerns no order")
    occurred_at = _first_time(dispute, ("finalized_on", "initiated_at"), where)
    if occurred_at is None:
        raise PayloadError(f"{where}: initiated_at and finalized_on both missing")
    amount = dispute.get("amount")
    return DisputeChanged(
        dispute_id=dispute_id,
        order_id=_id(dispute["order_id"], f"{where}: order_id"),
        kind=_str(dispute.get("type"), f"{where}: type").lower(),
        status=_str(dispute.get("status"), f"{where}: status").lower(),
        occurred_at=occurred_at,
        amount=Decimal(0) if amount is None else _amount(amount, f"{where}: amount"),
    )


# -- order edits -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EditDelta:
    """An orders/edited body: which line ids were added or removed, by how much. It has no
    prices, so it becomes an event only with a later order snapshot (:func:`edit_notice`)."""

    edit_id: str
    order_id: str
    added: tuple[tuple[str, int], ...]  # (line_item_id, delta)
    removed: tuple[tuple[str, int], ...]  # (line_item_id, delta)
    occurred_at: datetime


def edit_from_payload(payload: Mapping[str, Any]) -> EditDelta:
    """An orders/edited body (``{"order_edit": {...}}``); its time is ``committed_at``
    (when the edit took effect), else ``created_at``."""
    edit = _obj(_obj(payload, "body").get("order_edit"), "order_edit")
    edit_id = _required_id(edit, "id", "order_edit")
    where = f"order_edit {edit_id}"
    occurred_at = _first_time(edit, ("committed_at", "created_at"), where)
    if occurred_at is None:
        raise PayloadError(f"{where}: committed_at and created_at both missing")
    changes = edit.get("line_items")
    changes = {} if changes is None else _obj(changes, f"{where}: line_items")

    def deltas(name: str) -> tuple[tuple[str, int], ...]:
        result = []
        for index, entry in enumerate(_list(changes.get(name), f"{where}: line_items.{name}")):
            place = f"{where}: line_items.{name}[{index}]"
            item = _obj(entry, place)
            result.append((_required_id(item, "id", place), _int(item.get("delta"), f"{place}.delta", minimum=1)))
        return tuple(result)

    return EditDelta(
        edit_id=edit_id,
        order_id=_required_id(edit, "order_id", "order_edit"),
        added=deltas("additions"),
        removed=deltas("removals"),
        occurred_at=occurred_at,
    )


def _priced(line: SaleLine, quantity: int, snapshot: OrderSnapshot, why: str) -> Decimal:
    """Commissionable value of ``quantity`` units of a line, prorated exactly and rounded
    once, half-up to the currency's minor unit (the same base formula as a sale)."""
    if quantity > line.quantity:
        raise NeedsFetch(f"{why}: {quantity} of line {line.line_item_id} but the order snapshot has {line.quantity}")
    if line.gift_card:
        return Money.zero(snapshot.currency).amount
    tax = Fraction(line.tax) if snapshot.taxes_included else Fraction(0)
    whole = Fraction(line.unit_price) * line.quantity - Fraction(line.discount) - tax
    return Money.rounded(max(whole, Fraction(0)) * quantity / line.quantity, snapshot.currency).amount


def _added(line_item_id: str, quantity: int, snapshot: OrderSnapshot, why: str) -> AddedLine:
    line = snapshot.line(line_item_id)
    if line is None:
        raise NeedsFetch(f"{why}: line {line_item_id} is not on order {snapshot.order_id} yet")
    return AddedLine(line_item_id, quantity, _priced(line, quantity, snapshot, why), line.title)


def edit_notice(delta: EditDelta, snapshot: OrderSnapshot) -> OrderEdited:
    """Price an edit's added lines from an order snapshot taken after the edit."""
    if delta.order_id != snapshot.order_id:
        raise ValueError(f"edit {delta.edit_id} is for order {delta.order_id}, not {snapshot.order_id}")
    why = f"edit {delta.edit_id}"
    return OrderEdited(
        edit_id=delta.edit_id,
        order_id=delta.order_id,
        added=tuple(_added(line_id, quantity, snapshot, why) for line_id, quantity in delta.added),
        occurred_at=delta.occurred_at,
        removed=delta.removed,
    )


# -- returns and exchanges -------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnSnapshot:
    """What a returns/* body says. Webhook returns are thin: ``complete`` is False when the
    body leaves lines out (no line lists at all, fewer listed than its totals, an exchange
    line with a null ``line_item``, or the returns/update delta form); the return must
    then be fetched before :func:`exchange_notice` can say what was exchanged."""

    return_id: str
    order_id: str | None  # None: the body names no order (returns/update)
    status: str | None
    returned: tuple[tuple[str, int], ...]  # (order line_item_id, quantity)
    exchanged: tuple[tuple[str, int], ...]  # (new order line_item_id, quantity)
    complete: bool
    occurred_at: datetime | None = None  # returns/* samples carry no timestamp
    # Exchange lines the body lists or counts, priced or not: > 0 means an exchange exists
    # even when ``exchanged`` is empty because Shopify sent ``line_item: null``.
    exchange_line_count: int = 0


def return_from_payload(payload: Mapping[str, Any]) -> ReturnSnapshot:
    """Any returns/* body (or a fetched Return in the same shape). Returned lines are the
    order's line ids; exchange lines are the new line ids Shopify added to the order."""
    ret = _obj(payload, "return")
    if ret.get("id") is not None:
        return_id = _id(ret["id"], "return.id")
    elif ret.get("admin_graphql_api_id") is not None:  # returns/update has only the gid
        return_id = _id(ret["admin_graphql_api_id"], "return.admin_graphql_api_id")
    else:
        raise PayloadError("return.id: missing")
    where = f"return {return_id}"
    status = _opt_str(ret.get("status"))
    # Minimal bodies (returns/close, cancel, reopen) list no lines at all: unknown, not none.
    complete = "return_line_items" in ret and "exchange_line_items" in ret

    returned: list[tuple[str, int]] = []
    raw_returned = ret.get("return_line_items")
    if isinstance(raw_returned, dict):  # returns/update: a delta, not the list
        complete = False
        raw_returned = []
    raw_returned = _list(raw_returned, f"{where}: return_line_items")
    for index, entry in enumerate(raw_returned):
        place = f"{where}: return_line_items[{index}]"
        item = _obj(entry, place)
        returned.append((_return_line_id(item, place), _int(item.get("quantity"), f"{place}.quantity", minimum=1)))

    exchanged: list[tuple[str, int]] = []
    raw_exchanged = _list(ret.get("exchange_line_items"), f"{where}: exchange_line_items")
    for index, entry in enumerate(raw_exchanged):
        place = f"{where}: exchange_line_items[{index}]"
        item = _obj(entry, place)
        line_item = item.get("line_item")
        if line_item is None:
            complete = False
            continue
        line_item = _obj(line_item, f"{place}.line_item")
        quantity = item.get("quantity", line_item.get("quantity"))
        exchanged.append((_required_id(line_item, "id", f"{place}.line_item"), _int(quantity, f"{place}.quantity", minimum=1)))

    counts: dict[str, int] = {}
    for total_key, listed in (("total_return_line_items", raw_returned), ("total_exchange_line_items", raw_exchanged)):
        total = ret.get(total_key)
        counts[total_key] = len(listed) if total is None else max(len(listed), _int(total, f"{where}: {total_key}"))
        if counts[total_key] > len(listed):
            complete = False

    order = ret.get("order")
    order_id = None
    if isinstance(order, dict) and order.get("id") is not None:
        order_id = _id(order["id"], f"{where}: order.id")
    elif ret.get("order_id") is not None:
        order_id = _id(ret["order_id"], f"{where}: order_id")
    return ReturnSnapshot(
        return_id=return_id,
        order_id=order_id,
        status=None if status is None else status.lower(),
        returned=tuple(returned),
        exchanged=tuple(exchanged),
        complete=complete,
        occurred_at=_first_time(ret, ("processed_at", "closed_at", "updated_at", "created_at"), where),
        exchange_line_count=counts["total_exchange_line_items"],
    )


def _return_line_id(item: Mapping[str, Any], place: str) -> str:
    """The order line a return line returns: ``line_item``, ``line_item_id``, or the
    ``fulfillment_line_item``'s ``line_item``."""
    if isinstance(item.get("line_item"), dict) and item["line_item"].get("id") is not None:
        return _id(item["line_item"]["id"], f"{place}.line_item.id")
    if item.get("line_item_id") is not None:
        return _id(item["line_item_id"], f"{place}.line_item_id")
    fulfilment = item.get("fulfillment_line_item")
    if isinstance(fulfilment, dict) and isinstance(fulfilment.get("line_item"), dict):
        return _required_id(fulfilment["line_item"], "id", f"{place}.fulfillment_line_item.line_item")
    raise PayloadError(f"{place}: no line_item, line_item_id or fulfillment_line_item.line_item")


def exchange_notice(
    ret: ReturnSnapshot, snapshot: OrderSnapshot, occurred_at: datetime | None = None
) -> ExchangeProcessed | None:
    """The exchange a return made, priced from an order snapshot that has the new lines.

    None when the return exchanges nothing. Returned lines carry no value (the policy
    prorates the frozen sale base); added lines are priced like a sale. The time is
    ``occurred_at`` if given, else the return's own, else the snapshot's ``updated_at``.
    """
    if ret.order_id is not None and ret.order_id != snapshot.order_id:
        raise ValueError(f"return {ret.return_id} is for order {ret.order_id}, not {snapshot.order_id}")
    why = f"return {ret.return_id}"
    if not ret.complete:
        raise NeedsFetch(f"{why}: the webhook body leaves lines out; fetch the return")
    if not ret.exchanged:
        return None
    if not ret.returned:
        raise NeedsFetch(f"{why}: exchanges lines but lists no returned line; fetch the return")
    when = occurred_at or ret.occurred_at or snapshot.updated_at
    if when is None:
        raise ValueError(f"{why}: no time known; pass occurred_at")
    return ExchangeProcessed(
        return_id=ret.return_id,
        order_id=snapshot.order_id,
        returned=tuple(ReturnedLine(line_id, quantity) for line_id, quantity in ret.returned),
        added=tuple(_added(line_id, quantity, snapshot, why) for line_id, quantity in ret.exchanged),
        occurred_at=when,
    )


# -- routing helpers -------------------------------------------------------------------------

_NO_ORDER_TOPICS = frozenset({"app/uninstalled", "app/scopes_update", "customers/data_request",
                              "customers/redact", "shop/redact"})


def order_id_of(topic: str, payload: Mapping[str, Any]) -> str | None:
    """The order a payload concerns, to park and lock by; None when it concerns no order
    (app and compliance topics, a dispute with a null ``order_id``, returns/update)."""
    body = _obj(payload, "body")
    if topic in _NO_ORDER_TOPICS:
        return None
    if topic == "orders/edited":
        return _required_id(_obj(body.get("order_edit"), "order_edit"), "order_id", "order_edit")
    if topic.startswith("orders/"):
        return _required_id(body, "id", "order")
    if topic == "refunds/create":
        return _required_id(body, "order_id", "refund")
    if topic.startswith("returns/"):
        order = body.get("order")
        if isinstance(order, dict) and order.get("id") is not None:
            return _id(order["id"], "return.order.id")
        return None if body.get("order_id") is None else _id(body["order_id"], "return.order_id")
    if topic.startswith("disputes/") or topic == "order_transactions/create":
        return None if body.get("order_id") is None else _id(body["order_id"], f"{topic}: order_id")
    return None


def business_key(topic: str, payload: Mapping[str, Any]) -> str | None:
    """The key of the business object a payload describes, spelled like the event keys
    (``refund:ID``, ``edit:ID``, ``dispute:ID:status``, ``return:ID``, ``order:ID``), so the
    same refund seen again (redelivery, another subscription) is recognised as such.
    None for topics with no such object (app and compliance topics, unknown topics)."""
    body = _obj(payload, "body")
    if topic in _NO_ORDER_TOPICS:
        return None
    if topic == "orders/edited":
        return f"edit:{_required_id(_obj(body.get('order_edit'), 'order_edit'), 'id', 'order_edit')}"
    if topic.startswith("orders/"):
        return f"order:{_required_id(body, 'id', 'order')}"
    if topic == "refunds/create":
        return f"refund:{_required_id(body, 'id', 'refund')}"
    if topic.startswith("disputes/"):
        status = _str(body.get("status"), "dispute.status").lower()
        return f"dispute:{_required_id(body, 'id', 'dispute')}:{status}"
    if topic.startswith("returns/"):
        raw = body.get("id", body.get("admin_graphql_api_id"))
        if raw is None:
            raise PayloadError("return.id: missing")
        return f"return:{_id(raw, 'return.id')}"
    if topic == "order_transactions/create":
        return f"transaction:{_required_id(body, 'id', 'transaction')}"
    return None
