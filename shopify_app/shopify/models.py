"""Pydantic models of the Shopify webhook payloads Clawback reads: the ONE place that reads
Shopify payloads. Each top-level model turns into a snapshot (``snapshots.py``) or, for
refunds and disputes, straight into the policy event.

Why models: Shopify's payloads are loose (amounts as strings here and JSON numbers there,
shop and presentment money side by side, thin bodies, ids as numbers or gids). The atoms of
``fields.py`` hold each rule once; the models say where each field is, and the validators
here hold the rules that span fields (shop money in the order's currency, an embedded refund
of this order, one currency per refund, sums a real order can hold). Once ``model_validate``
has passed, turning a model into its snapshot cannot fail.

Validate the Python objects of ``body.parse_json``, never JSON text: pydantic's JSON mode
reads numbers through float.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, NamedTuple, TypeVar

from pydantic import BeforeValidator, Field, model_validator

from policy.attribution import Clues
from policy.events import DisputeChanged, RefundCreated, RefundLine, SaleLine
from shopify_app.shopify.fields import (
    Amount,
    Array,
    Code,
    Currency,
    Domain,
    Flag,
    Items,
    Loc,
    Model,
    MoneyItem,
    MoneySet,
    OptCode,
    OptEmail,
    OptLongText,
    OptTitle,
    PositiveQuantity,
    Quantity,
    ShopifyId,
    Timestamp,
    currencies,
    either,
    field_error,
    one_currency,
    read_code,
    real_total,
    real_value,
    shopify_id,
)
from shopify_app.shopify.snapshots import (
    CustomerRedact,
    DataRequest,
    EditSnapshot,
    OrderSnapshot,
    ReturnSnapshot,
    ScopesUpdate,
    ShopRedact,
    ShopSnapshot,
    Snapshot,
)
from shopify_app.shopify.topics import TopicKind

T = TypeVar("T")

PAID_STATUSES = frozenset({"paid", "partially_refunded", "refunded"})
"""``financial_status`` values that show an order paid (interfaces.md, "Attribution")."""


class Payload(Model):
    """A top-level webhook body: one per handled topic kind."""

    def snapshot(self, topic: str) -> Snapshot:
        raise NotImplementedError


class Ref(Model):
    """An object named by an id that may be null: the order line of a refund or return line,
    the order of a return."""

    id: ShopifyId | None = None


# -- orders ----------------------------------------------------------------------------------


class DiscountAllocation(MoneyItem):
    required_money = ("amount",)
    amount: Amount | None = None
    amount_set: MoneySet | None = None


class TaxLine(MoneyItem):
    required_money = ("price",)
    price: Amount | None = None
    price_set: MoneySet | None = None


class LineItem(MoneyItem):
    required_money = ("price",)
    id: ShopifyId
    title: OptTitle = None
    name: OptTitle = None
    quantity: Quantity
    price: Amount | None = None
    price_set: MoneySet | None = None
    discount_allocations: Items[DiscountAllocation] = ()
    tax_lines: Items[TaxLine] = ()
    product_id: ShopifyId | None = None
    gift_card: Flag = False

    @model_validator(mode="after")
    def _check(self) -> LineItem:
        real_value((), "price x quantity", self.required_amount("price") * self.quantity)
        self.discount()
        self.tax()
        return self

    def discount(self) -> Decimal:
        """The line's allocations, order-level ``across`` discounts included."""
        return real_total(("discount_allocations",), (a.required_amount("amount") for a in self.discount_allocations))

    def tax(self) -> Decimal:
        return real_total(("tax_lines",), (t.required_amount("price") for t in self.tax_lines))

    def money(self) -> Iterator[tuple[Loc, MoneyItem, str]]:
        yield (), self, "price"
        for index, allocation in enumerate(self.discount_allocations):
            yield ("discount_allocations", index), allocation, "amount"
        for index, tax in enumerate(self.tax_lines):
            yield ("tax_lines", index), tax, "price"

    def sale_line(self) -> SaleLine:
        """``discount`` sums the line's allocations, ``tax`` its tax lines: the base formula
        needs no other field."""
        return SaleLine(
            line_item_id=self.id,
            quantity=self.quantity,
            unit_price=self.required_amount("price"),
            discount=self.discount(),
            tax=self.tax(),
            title=self.title or self.name or "",
            product_id=self.product_id,
            gift_card=self.gift_card,
        )


class DiscountCode(Model):
    code: OptCode = None


class DiscountApplication(Model):
    type: OptCode = None
    code: OptCode = None


class NoteAttribute(Model):
    name: OptTitle = None
    value: OptLongText = None


class Customer(Model):
    id: ShopifyId | None = None
    email: OptEmail = None


class Fulfillment(Model):
    status: OptCode = None
    created_at: Timestamp | None = None

    @model_validator(mode="after")
    def _dated_if_successful(self) -> Fulfillment:
        if self.status == "success" and self.created_at is None:
            raise field_error(("created_at",), "missing on a successful fulfilment")
        return self


# -- refunds ---------------------------------------------------------------------------------


class RefundLineItem(MoneyItem):
    line_item_id: ShopifyId | None = None
    line_item: Ref | None = None
    quantity: Quantity
    subtotal: Amount | None = None
    subtotal_set: MoneySet | None = None
    total_tax: Amount | None = None
    total_tax_set: MoneySet | None = None

    def order_line_id(self) -> str:
        found = self.line_item_id
        if found is None and self.line_item is not None:
            found = self.line_item.id
        if found is None:
            raise field_error(("line_item_id",), "missing")
        return found

    @model_validator(mode="after")
    def _check(self) -> RefundLineItem:
        self.order_line_id()
        return self

    def refund_line(self) -> RefundLine:
        tax = self.amount_of("total_tax")
        return RefundLine(
            line_item_id=self.order_line_id(),
            quantity=self.quantity,
            subtotal=self.amount_of("subtotal"),
            total_tax=Decimal(0) if tax is None else tax,
        )


class OrderAdjustment(MoneyItem):
    """Shopify documents the kinds ``refund_discrepancy`` and ``shipping_refund``. ``kind`` is
    deprecated since API 2024-10, which moved shipping refunds to ``refund_shipping_lines``:
    an adjustment without a kind is therefore a discrepancy (as the GraphQL path reads every
    ``orderAdjustment``). Any other kind moves no commission, so its amount is not needed."""

    READ_KINDS: ClassVar[frozenset[str | None]] = frozenset({"refund_discrepancy", "shipping_refund", None})
    kind: OptCode = None
    amount: Amount | None = None
    amount_set: MoneySet | None = None

    @property
    def is_discrepancy(self) -> bool:
        return self.kind in ("refund_discrepancy", None)

    @model_validator(mode="after")
    def _amount_if_read(self) -> OrderAdjustment:
        if self.kind in self.READ_KINDS:
            self.required_amount("amount")
        return self


class RefundShippingLine(MoneyItem):
    required_money = ("subtotal_amount",)
    subtotal_amount: Amount | None = None
    subtotal_amount_set: MoneySet | None = None


class ReturnRef(Model):
    """The ``return`` a refund names: ``{"id": ..., "admin_graphql_api_id": ...}`` (or null)."""

    id: ShopifyId


class OrderRefund(Model):
    """One of an order's ``refunds[]``: its ``order_id`` may be left out (it is the order's)."""

    id: ShopifyId
    order_id: ShopifyId | None = None
    created_at: Timestamp | None = None
    processed_at: Timestamp | None = None
    refund_line_items: Items[RefundLineItem] = ()
    order_adjustments: Items[OrderAdjustment] = ()
    refund_shipping_lines: Items[RefundShippingLine] = ()
    return_: ReturnRef | None = Field(default=None, alias="return")  # the return this refund settles

    @model_validator(mode="after")
    def _check(self) -> OrderRefund:
        self.occurred_at()
        self.currency()
        self.discrepancy()
        self.shipping()
        return self

    def occurred_at(self) -> datetime:
        return either(self, "created_at", "processed_at")

    def currency(self) -> str | None:
        """The one currency the refund's shop money names, None when it names none."""
        return one_currency(currencies(self.money()))

    def discrepancy(self) -> Decimal:
        """Shopify's sign kept (negative: refunded beyond the lines)."""
        return real_total(("order_adjustments",),
                          (a.required_amount("amount") for a in self.order_adjustments if a.is_discrepancy))

    def shipping(self) -> Decimal:
        """``refund_shipping_lines`` (API 2024-10+) plus ``shipping_refund`` adjustments
        (older), which Shopify signs negative: the magnitude is kept, for the history only."""
        adjusted = sum((abs(a.required_amount("amount")) for a in self.order_adjustments if a.kind == "shipping_refund"),
                       Decimal(0))
        lines = sum((s.required_amount("subtotal_amount") for s in self.refund_shipping_lines), Decimal(0))
        return real_value(("refund_shipping_lines",), "total with the shipping_refund adjustments", adjusted + lines)

    def money(self) -> Iterator[tuple[Loc, MoneyItem, str]]:
        for index, line in enumerate(self.refund_line_items):
            yield ("refund_line_items", index), line, "subtotal"
            yield ("refund_line_items", index), line, "total_tax"
        for index, adjustment in enumerate(self.order_adjustments):
            yield ("order_adjustments", index), adjustment, "amount"
        for index, shipping in enumerate(self.refund_shipping_lines):
            yield ("refund_shipping_lines", index), shipping, "subtotal_amount"

    def event(self, order_id: str) -> RefundCreated:
        return RefundCreated(
            refund_id=self.id,
            order_id=self.order_id or order_id,
            lines=tuple(line.refund_line() for line in self.refund_line_items),
            created_at=self.occurred_at(),
            discrepancy=self.discrepancy(),
            shipping=self.shipping(),
            currency=self.currency(),
            return_id=self.return_.id if self.return_ is not None else None,
        )


class Refund(OrderRefund, Payload):
    """refunds/create: the bare Refund object, which names its order."""

    order_id: ShopifyId

    def snapshot(self, topic: str) -> RefundCreated:
        return self.event(self.order_id)


class Order(Payload):
    """A full Order: orders/create, paid, updated, cancelled, fulfilled, partially_fulfilled."""

    id: ShopifyId
    name: OptTitle = None
    currency: Currency  # the shop currency
    taxes_included: Flag  # no default: guessing wrong would move every base by the tax
    financial_status: OptCode = None
    line_items: Array[LineItem]
    discount_codes: Items[DiscountCode] = ()
    discount_applications: Items[DiscountApplication] = ()
    note_attributes: Items[NoteAttribute] = ()
    landing_site: OptLongText = None
    email: OptEmail = None
    contact_email: OptEmail = None
    customer: Customer | None = None
    processed_at: Timestamp | None = None
    created_at: Timestamp | None = None
    cancelled_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    fulfillments: Items[Fulfillment] = ()
    refunds: Items[OrderRefund] = ()

    @model_validator(mode="after")
    def _check(self) -> Order:
        self.occurred_at()
        # Shop money in another currency than the order's would mean the shop currency is
        # not what we think, and every amount would be wrong.
        one_currency(((("line_items", index, *loc), code)
                      for index, line in enumerate(self.line_items) for loc, code in currencies(line.money())),
                     (self.currency, "the shop currency"))
        for index, refund in enumerate(self.refunds):
            if refund.order_id is not None and refund.order_id != self.id:
                raise field_error(("refunds", index, "order_id"), f"{refund.order_id} is not the expected order {self.id}")
        return self

    def occurred_at(self) -> datetime:
        return either(self, "processed_at", "created_at")

    def snapshot(self, topic: str) -> OrderSnapshot:
        successful = [f.created_at for f in self.fulfillments if f.status == "success" and f.created_at is not None]
        return OrderSnapshot(
            order_id=self.id,
            name=self.name or "",
            currency=self.currency,
            taxes_included=self.taxes_included,
            paid=self.financial_status in PAID_STATUSES or topic == "orders/paid",
            lines=tuple(line.sale_line() for line in self.line_items),
            clues=self._clues(),
            processed_at=self.occurred_at(),
            cancelled_at=self.cancelled_at,
            fulfilled_at=min(successful, default=None),  # failed, cancelled ones never started the clock
            refunds=tuple(refund.event(self.id) for refund in self.refunds),
            updated_at=self.updated_at,
        )

    def _clues(self) -> Clues:
        """Everything attribution looks at (interfaces.md, "Attribution of orders")."""
        codes = [d.code for d in self.discount_codes if d.code]
        codes += [a.code for a in self.discount_applications if a.type == "discount_code" and a.code]
        ref = next((n.value for n in self.note_attributes
                    if n.name is not None and n.name.strip().casefold() == "ref" and n.value), None)
        emails = [self.email, self.contact_email, None if self.customer is None else self.customer.email]
        return Clues(
            discount_codes=tuple(dict.fromkeys(codes)),
            ref_attribute=ref,
            landing_site=self.landing_site,
            buyer_emails=tuple(dict.fromkeys(e for e in emails if e)),
        )


# -- disputes --------------------------------------------------------------------------------


class Dispute(Payload):
    """disputes/create and disputes/update. ``amount`` is in the dispute's own
    ``currency`` (disputes carry no shop money); it is informational, the policy zeroes or
    restores the whole order."""

    id: ShopifyId
    order_id: ShopifyId | None  # the key must be there; null is refused below
    type: Code
    status: Code
    amount: Amount | None = None
    initiated_at: Timestamp | None = None
    finalized_on: Timestamp | None = None

    @model_validator(mode="after")
    def _check(self) -> Dispute:
        self.order()
        self.occurred_at()
        return self

    def order(self) -> str:
        if self.order_id is None:  # Shopify lists such disputes
            raise field_error(("order_id",), "null: the dispute concerns no order")
        return self.order_id

    def occurred_at(self) -> datetime:
        """The latest known change: ``finalized_on`` once set."""
        return either(self, "finalized_on", "initiated_at")

    def snapshot(self, topic: str) -> DisputeChanged:
        return DisputeChanged(
            dispute_id=self.id,
            order_id=self.order(),
            kind=self.type.lower(),
            status=self.status.lower(),
            occurred_at=self.occurred_at(),
            amount=Decimal(0) if self.amount is None else self.amount,
        )


# -- order edits -----------------------------------------------------------------------------


class EditLine(Model):
    id: ShopifyId
    delta: PositiveQuantity


class EditLineChanges(Model):
    additions: Items[EditLine] = ()
    removals: Items[EditLine] = ()


class OrderEdit(Model):
    id: ShopifyId
    order_id: ShopifyId
    committed_at: Timestamp | None = None
    created_at: Timestamp | None = None
    line_items: EditLineChanges | None = None

    @model_validator(mode="after")
    def _check(self) -> OrderEdit:
        self.occurred_at()
        return self

    def occurred_at(self) -> datetime:
        """When the edit took effect: ``committed_at``, else ``created_at``."""
        return either(self, "committed_at", "created_at")


class OrderEditBody(Payload):
    """orders/edited: ``{"order_edit": {...}}``. It carries no prices."""

    order_edit: OrderEdit

    def snapshot(self, topic: str) -> EditSnapshot:
        edit = self.order_edit
        changes = edit.line_items or EditLineChanges()
        return EditSnapshot(
            edit_id=edit.id,
            order_id=edit.order_id,
            added=tuple((line.id, line.delta) for line in changes.additions),
            removed=tuple((line.id, line.delta) for line in changes.removals),
            occurred_at=edit.occurred_at(),
        )


# -- returns ---------------------------------------------------------------------------------


class FulfillmentLineItem(Model):
    line_item: Ref | None = None


class ReturnLineItem(Model):
    """A returned line; the order line it returns is ``line_item``, ``line_item_id`` or the
    ``fulfillment_line_item``'s ``line_item``, whichever the body has."""

    line_item: Ref | None = None
    line_item_id: ShopifyId | None = None
    fulfillment_line_item: FulfillmentLineItem | None = None
    quantity: PositiveQuantity

    @model_validator(mode="after")
    def _check(self) -> ReturnLineItem:
        self.order_line_id()
        return self

    def order_line_id(self) -> str:
        fulfilled = None if self.fulfillment_line_item is None else self.fulfillment_line_item.line_item
        for found in (None if self.line_item is None else self.line_item.id,
                      self.line_item_id,
                      None if fulfilled is None else fulfilled.id):
            if found is not None:
                return found
        raise field_error((), "no line_item, line_item_id or fulfillment_line_item.line_item")


class ExchangeLine(Model):
    id: ShopifyId
    quantity: PositiveQuantity | None = None


class ExchangeLineItem(Model):
    """A line the exchange adds to the order; ``line_item`` is null until Shopify has made
    that order line, and then the return must be fetched."""

    line_item: ExchangeLine | None = None
    quantity: PositiveQuantity | None = None

    @model_validator(mode="after")
    def _check(self) -> ExchangeLineItem:
        self.exchanged()
        return self

    def exchanged(self) -> tuple[str, int] | None:
        """(new order line id, quantity); None while the line is not made."""
        if self.line_item is None:
            return None
        quantity = self.quantity if self.quantity is not None else self.line_item.quantity
        if quantity is None:
            raise field_error(("quantity",), "missing")
        return self.line_item.id, quantity


def _listed(value: Any) -> Any:
    """returns/update sends ``return_line_items`` as a delta (``{"removals": [...]}``),
    not the lines: read it, like a null, as "lines not listed"."""
    return None if isinstance(value, dict) else value


Listed = Annotated[Array[T] | None, BeforeValidator(_listed)]


class Return(Payload):
    """Any returns/* body, from the full shape of returns/request and approve to the bare
    ``{id, order_id, status}`` of returns/close and the delta form of returns/update."""

    id: ShopifyId | None = None
    admin_graphql_api_id: ShopifyId | None = None  # returns/update has only the gid
    status: OptCode = None
    order: Ref | None = None
    order_id: ShopifyId | None = None
    return_line_items: Listed[ReturnLineItem] = None
    exchange_line_items: Listed[ExchangeLineItem] = None
    total_return_line_items: Quantity | None = None
    total_exchange_line_items: Quantity | None = None
    processed_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    updated_at: Timestamp | None = None
    created_at: Timestamp | None = None

    @model_validator(mode="after")
    def _check(self) -> Return:
        self.return_id()
        return self

    def return_id(self) -> str:
        return either(self, "id", "admin_graphql_api_id")

    def snapshot(self, topic: str) -> ReturnSnapshot:
        """Returned lines are the order's line ids; exchange lines are the new line ids
        Shopify added to the order. ``complete`` is False when the body leaves lines out:
        a list not given, fewer listed than its totals, or an exchange line not made yet."""
        returned = self.return_line_items or ()
        exchanges = self.exchange_line_items or ()
        exchanged = [pair for pair in (item.exchanged() for item in exchanges) if pair is not None]
        complete = (
            self.return_line_items is not None
            and self.exchange_line_items is not None
            and len(exchanged) == len(exchanges)
            and (self.total_return_line_items or 0) <= len(returned)
            and (self.total_exchange_line_items or 0) <= len(exchanges)
        )
        order_id = None if self.order is None else self.order.id
        return ReturnSnapshot(
            return_id=self.return_id(),
            order_id=order_id or self.order_id,
            status=None if self.status is None else self.status.lower(),
            returned=tuple((line.order_line_id(), line.quantity) for line in returned),
            exchanged=tuple(exchanged),
            complete=complete,
            occurred_at=self.processed_at or self.closed_at or self.updated_at or self.created_at,
        )


# -- app and compliance topics ---------------------------------------------------------------


class Shop(Payload):
    """app/uninstalled: the Shop object. Shopify's own sample has a null
    ``myshopify_domain``; the delivery's shop header is the authority, so none is needed."""

    myshopify_domain: OptCode = None
    currency: OptCode = None

    def snapshot(self, topic: str) -> ShopSnapshot:
        return ShopSnapshot(domain=self.myshopify_domain, currency=self.currency)


class ScopesUpdateBody(Payload):
    previous: Items[Code] = ()
    current: Items[Code] = ()

    def snapshot(self, topic: str) -> ScopesUpdate:
        return ScopesUpdate(previous=self.previous, current=self.current)


class _CustomerRequest(Payload):
    shop_domain: Domain
    customer: Customer | None = None

    @property
    def customer_id(self) -> str | None:
        return None if self.customer is None else self.customer.id


class DataRequestBody(_CustomerRequest):
    orders_requested: Items[ShopifyId] = ()

    def snapshot(self, topic: str) -> DataRequest:
        return DataRequest(self.shop_domain, self.customer_id, self.orders_requested)


class CustomersRedactBody(_CustomerRequest):
    orders_to_redact: Items[ShopifyId] = ()

    def snapshot(self, topic: str) -> CustomerRedact:
        return CustomerRedact(self.shop_domain, self.customer_id, self.orders_to_redact)


class ShopRedactBody(Payload):
    shop_domain: Domain

    def snapshot(self, topic: str) -> ShopRedact:
        return ShopRedact(self.shop_domain)


MODELS: Mapping[TopicKind, type[Payload]] = {
    TopicKind.ORDER: Order,
    TopicKind.REFUND: Refund,
    TopicKind.DISPUTE: Dispute,
    TopicKind.EDIT: OrderEditBody,
    TopicKind.RETURN: Return,
    TopicKind.APP_UNINSTALLED: Shop,
    TopicKind.SCOPES_UPDATE: ScopesUpdateBody,
    TopicKind.DATA_REQUEST: DataRequestBody,
    TopicKind.CUSTOMERS_REDACT: CustomersRedactBody,
    TopicKind.SHOP_REDACT: ShopRedactBody,
}
"""The model of each topic kind's body."""


# -- ids of a body that failed validation ----------------------------------------------------


class BodyIds(NamedTuple):
    resource: str | None  # the id of the order, refund, dispute, edit or return
    order: str | None
    status: str | None = None  # a dispute's, lowercased: part of its key


@dataclass(frozen=True)
class _IdPaths:
    resource: tuple[tuple[str, ...], ...]  # first non-null wins
    order: tuple[tuple[str, ...], ...]
    status: tuple[str, ...] | None = None


_ID_PATHS: Mapping[TopicKind, _IdPaths] = {
    TopicKind.ORDER: _IdPaths((("id",),), (("id",),)),
    TopicKind.REFUND: _IdPaths((("id",),), (("order_id",),)),
    TopicKind.DISPUTE: _IdPaths((("id",),), (("order_id",),), ("status",)),
    TopicKind.EDIT: _IdPaths((("order_edit", "id"),), (("order_edit", "order_id"),)),
    TopicKind.RETURN: _IdPaths((("id",), ("admin_graphql_api_id",)), (("order", "id"), ("order_id",))),
}


def ids_of(kind: TopicKind, body: Mapping[str, Any]) -> BodyIds:
    """Best effort ids of a body that failed validation, read where the models above read
    them and by the same rules: the delivery must still be findable by its order and key.
    Never raises; None for whatever is unreadable."""
    paths = _ID_PATHS.get(kind)
    if paths is None:
        return BodyIds(None, None)
    status = None
    if paths.status is not None:
        try:
            status = read_code(_dig(body, paths.status)).lower()
        except ValueError:
            status = None
    return BodyIds(_first_id(body, paths.resource), _first_id(body, paths.order), status)


def _dig(body: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = body
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _first_id(body: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> str | None:
    for path in paths:
        value = _dig(body, path)
        if value is not None:
            try:
                return shopify_id(value)
            except ValueError:
                return None
    return None

