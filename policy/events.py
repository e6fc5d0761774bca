"""Events: the typed inputs of the policy, what happened to an order, in shop money, as Decimal.

Snapshots of Shopify payloads become these (shopify_app.services.events); tests build them directly.
Every event has an idempotency ``key`` taken from payload ids (``refund:ID``,
``dispute:ID:status``, ...), an ``occurred_at`` (when it happened at Shopify), and a
``fingerprint`` of the content that key must always carry: the same key with a different
fingerprint is a conflict, never applied.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Union

# -- the sale ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleLine:
    """One line item as sold. Amounts are shop money; ``discount`` is the sum of the line's
    discount allocations (order-level ``across`` discounts included), ``tax`` of its tax lines."""

    line_item_id: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    title: str = ""
    product_id: str | None = None
    gift_card: bool = False


@dataclass(frozen=True)
class Referral:
    """The affiliate an order is attributed to, with the terms in force at sale time."""

    code: str
    rate_percent: Decimal | None = None  # the affiliate's override, if any
    approval_delay_days: int | None = None  # the affiliate's override, if any
    flagged: bool = False


@dataclass(frozen=True)
class OrderPaid:
    """The first payload showing the order paid. Later ones never create a second referral."""

    order_id: str
    order_name: str
    currency: str
    taxes_included: bool
    lines: tuple[SaleLine, ...]
    referral: Referral | None  # None: not referred, or a self-referral
    processed_at: datetime
    product_rates: tuple[tuple[str, Decimal], ...] = ()  # product id -> rate percent

    @property
    def key(self) -> str:
        return f"order:{self.order_id}"

    @property
    def occurred_at(self) -> datetime:
        return self.processed_at


# -- later events --------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundLine:
    line_item_id: str
    quantity: int
    subtotal: Decimal | None  # shop money; None: pro-rate the line's base by quantity
    total_tax: Decimal = Decimal(0)


@dataclass(frozen=True)
class RefundCreated:
    """A refund. ``discrepancy`` is the sum of its ``refund_discrepancy`` adjustments as
    Shopify signs them: negative = money refunded beyond the lines (an amount-only refund),
    positive = the lines were refunded for less than their subtotals. ``shipping`` is what
    was refunded for shipping; it never touches commissions and is kept for the history.
    ``currency`` is the shop-money currency the refund's amounts are in (None when it names
    none); a refund in another currency than its order's sale is refused, never applied.
    ``return_id`` names the return it settles, if any: with an exchange, the return and its
    refund take the same items back, and the policy must count them once."""

    refund_id: str
    order_id: str
    lines: tuple[RefundLine, ...]
    created_at: datetime
    discrepancy: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    currency: str | None = None
    return_id: str | None = None

    @property
    def key(self) -> str:
        return f"refund:{self.refund_id}"

    @property
    def occurred_at(self) -> datetime:
        return self.created_at


@dataclass(frozen=True)
class ReturnedLine:
    line_item_id: str
    quantity: int
    value: Decimal | None = None  # None: pro-rate the line's base by quantity


@dataclass(frozen=True)
class AddedLine:
    """A line added by an exchange or an order edit, with its commissionable value."""

    line_item_id: str
    quantity: int
    value: Decimal
    title: str = ""


@dataclass(frozen=True)
class ExchangeProcessed:
    """A return whose items were exchanged for ``added`` lines on the same order."""

    return_id: str
    order_id: str
    returned: tuple[ReturnedLine, ...]
    added: tuple[AddedLine, ...]
    occurred_at: datetime

    @property
    def key(self) -> str:
        return f"return:{self.return_id}"


@dataclass(frozen=True)
class OrderEdited:
    """An order edit. Added lines count as an upgrade (never a second referral); removed
    quantities are history only: money leaves an order through refunds."""

    edit_id: str
    order_id: str
    added: tuple[AddedLine, ...]
    occurred_at: datetime
    removed: tuple[tuple[str, int], ...] = ()

    @property
    def key(self) -> str:
        return f"edit:{self.edit_id}"


CHARGEBACK_STANDING = frozenset({"needs_response", "under_review", "accepted", "charge_refunded", "lost"})
FINAL_DISPUTE_STATUSES = frozenset({"won", "lost"})
_DISPUTE_RANK = {"needs_response": 1, "under_review": 2, "accepted": 3, "charge_refunded": 3, "won": 4, "lost": 4}


@dataclass(frozen=True)
class DisputeChanged:
    """A dispute created or updated. ``kind`` is Shopify's ``type``: chargeback or inquiry."""

    dispute_id: str
    order_id: str
    kind: str
    status: str
    occurred_at: datetime
    amount: Decimal = Decimal(0)

    @property
    def key(self) -> str:
        return f"dispute:{self.dispute_id}:{self.status}"

    @property
    def rank(self) -> int:
        """How far along the dispute is; a delivery with a lower rank is older news."""
        return _DISPUTE_RANK.get(self.status, 0)

    @property
    def zeroes_order(self) -> bool:
        return self.kind == "chargeback" and self.status in CHARGEBACK_STANDING


@dataclass(frozen=True)
class OrderCancelled:
    order_id: str
    cancelled_at: datetime

    @property
    def key(self) -> str:
        return f"cancel:{self.order_id}"

    @property
    def occurred_at(self) -> datetime:
        return self.cancelled_at


@dataclass(frozen=True)
class OrderFulfilled:
    """First fulfilment; starts the approval delay when ``delay_starts`` is ``fulfillment``."""

    order_id: str
    fulfilled_at: datetime

    @property
    def key(self) -> str:
        return f"fulfil:{self.order_id}"

    @property
    def occurred_at(self) -> datetime:
        return self.fulfilled_at


@dataclass(frozen=True)
class ReviewDecided:
    """A merchant's decision on the amount-only part of a refund held for review
    (``amount_only_refunds = review``): accepted, it is spread over the order's lines as
    ``prorate`` would have; rejected, it stays out of commissions. An explicit, audited
    merchant action; it appends records like any event and edits none."""

    order_id: str
    refund_id: str
    accepted: bool
    decided_by: str
    decided_at: datetime

    @property
    def key(self) -> str:
        return f"review:{self.refund_id}"

    @property
    def occurred_at(self) -> datetime:
        return self.decided_at


Event = Union[OrderPaid, RefundCreated, ExchangeProcessed, OrderEdited, DisputeChanged, OrderCancelled, OrderFulfilled, ReviewDecided]
"""Every input the policy accepts."""

# What each event's key promises never changes. Times are left out: a redelivery may carry
# a re-serialised timestamp, and the time does not move money. A refund's currency is left
# out too: it is checked against the sale instead, and fingerprints stored before it was
# read must still match their redeliveries; and so is its return id, for the same reason.
_CONTENT_FIELDS = {
    RefundCreated: ("order_id", "lines", "discrepancy", "shipping"),
    ExchangeProcessed: ("order_id", "returned", "added"),
    OrderEdited: ("order_id", "added", "removed"),
    DisputeChanged: ("order_id", "kind", "status"),
    OrderCancelled: ("order_id",),
    OrderFulfilled: ("order_id",),
    ReviewDecided: ("order_id", "refund_id", "accepted"),
}


def _canonical(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, tuple):
        return [_canonical(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _canonical(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


def fingerprint(event: Event) -> str:
    """Digest of the content the event's key stands for (see ``_CONTENT_FIELDS``).

    An ``OrderPaid`` has no conflicting content: the first paid payload wins and later
    ones (an order changes over time) are simply not a new sale.
    """
    names = _CONTENT_FIELDS.get(type(event), ())
    content = {name: _canonical(getattr(event, name)) for name in names}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]
