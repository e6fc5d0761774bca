"""GraphQL Admin API answers -> snapshots: the same ``OrderSnapshot``, ``RefundCreated`` and
``ReturnSnapshot`` the webhook models make, so a fetched order and a delivered one are
applied by the same code. Pure: no HTTP (``admin_api`` reads the pages and hands in one
object with every connection's ``nodes`` gathered).

Why models again and not the webhook ones: the GraphQL shapes differ (camelCase,
``shopMoney`` bags, connections, gids, enums in capitals), but each value obeys the same
bounded rules, so the atoms of ``fields.py`` are reused as they are: exact amounts (a JSON
number or a decimal string, never a float, at most 10**15), 64-bit ids (gids included),
ISO timestamps with an offset, bounded text. Money is always ``shopMoney``, and every
``shopMoney`` must be in the order's currency, as on the webhook path.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from policy.attribution import Clues
from policy.events import RefundCreated, RefundLine, SaleLine
from shopify_app.shopify import models
from shopify_app.shopify.errors import PayloadError
from shopify_app.shopify.fields import (
    Amount,
    Array,
    Code,
    Currency,
    Flag,
    Items,
    Loc,
    Model,
    OptCode,
    OptEmail,
    OptLongText,
    OptTitle,
    PositiveQuantity,
    Quantity,
    ShopifyId,
    Timestamp,
    either,
    field_error,
    one_currency,
    real_total,
    real_value,
    shopify_id,
)
from shopify_app.shopify.parse import refusal
from shopify_app.shopify.snapshots import OrderSnapshot, ReturnSnapshot

__all__ = ["order_snapshot", "return_snapshot"]

T = TypeVar("T")

PAID_STATUSES = frozenset(status.upper() for status in models.PAID_STATUSES)
"""``displayFinancialStatus`` values that show an order paid: the webhook path's, as the
GraphQL enum spells them."""


class Node(Model):
    """A GraphQL object: camelCase keys, read into snake_case attributes."""

    model_config = ConfigDict(alias_generator=to_camel)


class Ref(Node):
    id: ShopifyId


class Connection(Node, Generic[T]):
    """A connection with all its pages' nodes gathered (``pageInfo`` is the reader's)."""

    nodes: Array[T]


class Money(Node):
    amount: Amount
    currency_code: Currency


class MoneyBag(Node):
    """A ``...Set``: only ``shopMoney`` is read, never what the buyer saw."""

    shop_money: Money


def _currencies(bags: Iterator[tuple[Loc, MoneyBag]]) -> Iterator[tuple[Loc, str]]:
    """Each bag's currency, with the full path of its ``currencyCode``."""
    for loc, bag in bags:
        yield (*loc, "shopMoney", "currencyCode"), bag.shop_money.currency_code


# -- orders ----------------------------------------------------------------------------------


class Allocation(Node):
    allocated_amount_set: MoneyBag


class TaxLine(Node):
    price_set: MoneyBag


class LineItem(Node):
    id: ShopifyId
    title: OptTitle = None
    name: OptTitle = None
    quantity: Quantity
    is_gift_card: Flag
    product: Ref | None = None
    original_unit_price_set: MoneyBag
    discount_allocations: Array[Allocation]
    tax_lines: Array[TaxLine]

    @model_validator(mode="after")
    def _check(self) -> LineItem:
        real_value((), "unit price x quantity", self.original_unit_price_set.shop_money.amount * self.quantity)
        self.discount()
        self.tax()
        return self

    def discount(self) -> Decimal:
        return real_total(("discountAllocations",), (a.allocated_amount_set.shop_money.amount for a in self.discount_allocations))

    def tax(self) -> Decimal:
        return real_total(("taxLines",), (t.price_set.shop_money.amount for t in self.tax_lines))

    def money(self) -> Iterator[tuple[Loc, MoneyBag]]:
        yield ("originalUnitPriceSet",), self.original_unit_price_set
        for index, allocation in enumerate(self.discount_allocations):
            yield ("discountAllocations", index, "allocatedAmountSet"), allocation.allocated_amount_set
        for index, tax in enumerate(self.tax_lines):
            yield ("taxLines", index, "priceSet"), tax.price_set

    def sale_line(self) -> SaleLine:
        return SaleLine(
            line_item_id=self.id,
            quantity=self.quantity,
            unit_price=self.original_unit_price_set.shop_money.amount,
            discount=self.discount(),
            tax=self.tax(),
            title=self.title or self.name or "",
            product_id=None if self.product is None else self.product.id,
            gift_card=self.is_gift_card,
        )


class Attribute(Node):
    key: OptTitle = None
    value: OptLongText = None


class Visit(Node):
    landing_page: OptLongText = None


class JourneySummary(Node):
    first_visit: Visit | None = None
    last_visit: Visit | None = None


class EmailAddress(Node):
    email_address: OptEmail = None


class Customer(Node):
    default_email_address: EmailAddress | None = None


class Fulfillment(Node):
    status: Code
    created_at: Timestamp


# -- refunds ---------------------------------------------------------------------------------


class RefundLineItem(Node):
    line_item: Ref
    quantity: Quantity
    subtotal_set: MoneyBag
    total_tax_set: MoneyBag


class OrderAdjustment(Node):
    """Since API 2024-10 an order adjustment is only ever a refund discrepancy (refunded
    shipping moved to ``refundShippingLines`` and ``kind`` is gone), so each one counts."""

    amount_set: MoneyBag


class RefundShippingLine(Node):
    subtotal_amount_set: MoneyBag


class Refund(Node):
    id: ShopifyId
    created_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    order: Ref
    return_: Ref | None = Field(default=None, alias="return")  # the return this refund settles
    refund_line_items: Connection[RefundLineItem]
    order_adjustments: Connection[OrderAdjustment]
    refund_shipping_lines: Connection[RefundShippingLine]

    @model_validator(mode="after")
    def _check(self) -> Refund:
        self.occurred_at()
        self.currency()
        self.discrepancy()
        self.shipping()
        return self

    def occurred_at(self) -> datetime:
        return either(self, "created_at", "updated_at")

    def currency(self) -> str | None:
        return one_currency(_currencies(self.money()))

    def discrepancy(self) -> Decimal:
        """The order adjustments, as Shopify signs them."""
        return real_total(("orderAdjustments", "nodes"), (a.amount_set.shop_money.amount for a in self.order_adjustments.nodes))

    def shipping(self) -> Decimal:
        return real_total(("refundShippingLines", "nodes"),
                          (s.subtotal_amount_set.shop_money.amount for s in self.refund_shipping_lines.nodes))

    def money(self) -> Iterator[tuple[Loc, MoneyBag]]:
        for index, line in enumerate(self.refund_line_items.nodes):
            yield ("refundLineItems", "nodes", index, "subtotalSet"), line.subtotal_set
            yield ("refundLineItems", "nodes", index, "totalTaxSet"), line.total_tax_set
        for index, adjustment in enumerate(self.order_adjustments.nodes):
            yield ("orderAdjustments", "nodes", index, "amountSet"), adjustment.amount_set
        for index, shipping in enumerate(self.refund_shipping_lines.nodes):
            yield ("refundShippingLines", "nodes", index, "subtotalAmountSet"), shipping.subtotal_amount_set

    def event(self) -> RefundCreated:
        """The webhook path's ``RefundCreated``: ``subtotalSet`` is the refunded line value
        (discounts applied, tax apart), ``discrepancy`` the sum of the order adjustments as
        Shopify signs them, ``shipping`` the refunded shipping lines."""
        return RefundCreated(
            refund_id=self.id,
            order_id=self.order.id,
            lines=tuple(
                RefundLine(
                    line_item_id=line.line_item.id,
                    quantity=line.quantity,
                    subtotal=line.subtotal_set.shop_money.amount,
                    total_tax=line.total_tax_set.shop_money.amount,
                )
                for line in self.refund_line_items.nodes
            ),
            created_at=self.occurred_at(),
            discrepancy=self.discrepancy(),
            shipping=self.shipping(),
            currency=self.currency(),
            return_id=self.return_.id if self.return_ is not None else None,
        )


class Order(Node):
    id: ShopifyId
    name: OptTitle = None
    currency_code: Currency  # the shop currency (presentmentCurrencyCode is the buyer's)
    taxes_included: Flag
    display_financial_status: Code | None = None
    discount_codes: Items[OptCode] = ()
    custom_attributes: Items[Attribute] = ()
    customer_journey_summary: JourneySummary | None = None
    email: OptEmail = None
    customer: Customer | None = None
    processed_at: Timestamp | None = None
    created_at: Timestamp | None = None
    cancelled_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    fulfillments: Items[Fulfillment] = ()
    line_items: Connection[LineItem]
    refunds: Items[Refund] = ()

    @model_validator(mode="after")
    def _check(self) -> Order:
        self.occurred_at()
        one_currency(_currencies((("lineItems", "nodes", index, *loc), bag)
                                 for index, line in enumerate(self.line_items.nodes) for loc, bag in line.money()),
                     (self.currency_code, "the order currency"))
        for index, refund in enumerate(self.refunds):
            if refund.order.id != self.id:
                raise field_error(("refunds", index, "order", "id"), f"{refund.order.id} is not the expected order {self.id}")
        return self

    def occurred_at(self) -> datetime:
        return either(self, "processed_at", "created_at")

    def snapshot(self) -> OrderSnapshot:
        successful = [f.created_at for f in self.fulfillments if f.status == "SUCCESS"]
        return OrderSnapshot(
            order_id=self.id,
            name=self.name or "",
            currency=self.currency_code,
            taxes_included=self.taxes_included,
            paid=self.display_financial_status in PAID_STATUSES,
            lines=tuple(line.sale_line() for line in self.line_items.nodes),
            clues=self._clues(),
            processed_at=self.occurred_at(),
            cancelled_at=self.cancelled_at,
            fulfilled_at=min(successful, default=None),
            refunds=tuple(refund.event() for refund in self.refunds),
            updated_at=self.updated_at,
        )

    def _clues(self) -> Clues:
        """As the webhook path reads them. The landing page is the last visit's before the
        order (the session that bought, like REST ``landing_site``), else the first's."""
        ref = next((a.value for a in self.custom_attributes
                    if a.key is not None and a.key.strip().casefold() == "ref" and a.value), None)
        journey = self.customer_journey_summary
        visits = () if journey is None else (journey.last_visit, journey.first_visit)
        landing = next((v.landing_page for v in visits if v is not None and v.landing_page), None)
        address = None if self.customer is None else self.customer.default_email_address
        emails = [self.email, None if address is None else address.email_address]
        return Clues(
            discount_codes=tuple(dict.fromkeys(c for c in self.discount_codes if c)),
            ref_attribute=ref,
            landing_site=landing,
            buyer_emails=tuple(dict.fromkeys(e for e in emails if e)),
        )


# -- returns ---------------------------------------------------------------------------------


class FulfillmentLineItem(Node):
    line_item: Ref


class ReturnLineItem(Node):
    """A ``ReturnLineItemType``: a ``ReturnLineItem`` names the order line it returns
    through its fulfillment line; an ``UnverifiedReturnLineItem`` names none."""

    quantity: PositiveQuantity
    fulfillment_line_item: FulfillmentLineItem | None = None


class ExchangeOrderLine(Node):
    id: ShopifyId
    quantity: PositiveQuantity


class ExchangeLineItem(Node):
    """An item the buyer gets in exchange; ``lineItems`` are the order lines Shopify made
    for it when the exchange was processed (none while ``unprocessedQuantity`` is all)."""

    quantity: Quantity
    unprocessed_quantity: Quantity
    line_items: Items[ExchangeOrderLine] = ()


class Return(Node):
    id: ShopifyId
    status: Code
    closed_at: Timestamp | None = None
    order: Ref
    return_line_items: Connection[ReturnLineItem]
    exchange_line_items: Connection[ExchangeLineItem]

    def snapshot(self) -> ReturnSnapshot:
        """``complete`` is False when a line cannot be listed: a return line with no order
        line behind it, or exchange items not processed into order lines yet. GraphQL gives
        a return no processing time; ``closedAt`` is its only time (None while open)."""
        returned = [
            (line.fulfillment_line_item.line_item.id, line.quantity)
            for line in self.return_line_items.nodes
            if line.fulfillment_line_item is not None
        ]
        exchanges = self.exchange_line_items.nodes
        return ReturnSnapshot(
            return_id=self.id,
            order_id=self.order.id,
            status=self.status.lower(),
            returned=tuple(returned),
            exchanged=tuple((line.id, line.quantity) for item in exchanges for line in item.line_items),
            complete=len(returned) == len(self.return_line_items.nodes)
            and all(item.unprocessed_quantity == 0 for item in exchanges),
            occurred_at=self.closed_at,
        )


# -- entry points ----------------------------------------------------------------------------


def order_snapshot(order: dict[str, Any]) -> OrderSnapshot:
    """An ``Order`` object with ``lineItems.nodes`` gathered from every page and each of
    ``refunds`` a full ``Refund`` (its connections' nodes gathered too). Raises
    ``PayloadError``."""
    return _validate(Order, order, "order").snapshot()


def return_snapshot(ret: dict[str, Any]) -> ReturnSnapshot:
    """A ``Return`` object with both connections' nodes gathered. Raises ``PayloadError``."""
    return _validate(Return, ret, "return").snapshot()


ModelT = TypeVar("ModelT", bound=Node)


def _validate(model: type[ModelT], data: dict[str, Any], kind: str) -> ModelT:
    """Validate, or raise one line naming the resource, the camelCase path and the reason."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        try:
            resource = f"{kind} {shopify_id(data.get('id'))}"
        except ValueError:
            resource = kind
        raise PayloadError(refusal(resource, exc)) from None
