"""What Shopify says about one resource, typed, exact and in shop money.

Webhook payloads (``models.py``) are read into these, and so will be the Admin API's
answers: both paths feed the same ``services.process`` code. A snapshot says what a payload
says, not what it means for the ledger (that is ``services.events``). Refunds and disputes
need no snapshot of their own: their payload maps one to one onto the policy events
``RefundCreated`` and ``DisputeChanged``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Union

from policy.attribution import Clues
from policy.events import DisputeChanged, RefundCreated, SaleLine


@dataclass(frozen=True)
class OrderSnapshot:
    """A full Order (orders/create, paid, updated, cancelled, fulfilled; later also one
    fetched for reconciliation)."""

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
    refunds: tuple[RefundCreated, ...]  # the refunds embedded in the order body
    updated_at: datetime | None = None

    def line(self, line_item_id: str) -> SaleLine | None:
        return next((line for line in self.lines if line.line_item_id == line_item_id), None)


@dataclass(frozen=True)
class EditSnapshot:
    """An orders/edited body: which line ids were added or removed, by how much. It carries
    no prices; the order's latest priced lines price it."""

    edit_id: str
    order_id: str
    added: tuple[tuple[str, int], ...]  # (line_item_id, delta)
    removed: tuple[tuple[str, int], ...]  # (line_item_id, delta)
    occurred_at: datetime  # committed_at, else created_at


@dataclass(frozen=True)
class ReturnSnapshot:
    """A returns/* body. Webhook returns are thin: ``complete`` is False when the body leaves
    lines out (no line lists at all, fewer listed than its totals, an exchange line with a
    null ``line_item``, or the returns/update delta form)."""

    return_id: str
    order_id: str | None  # None: the body names no order (returns/update)
    status: str | None
    returned: tuple[tuple[str, int], ...]  # (order line_item_id, quantity)
    exchanged: tuple[tuple[str, int], ...]  # (new order line_item_id, quantity)
    complete: bool
    occurred_at: datetime | None = None


@dataclass(frozen=True)
class ShopSnapshot:
    """The Shop object of app/uninstalled."""

    domain: str | None  # myshopify_domain (null in Shopify's own sample)
    currency: str | None = None


@dataclass(frozen=True)
class ScopesUpdate:
    """app/scopes_update: the access scopes granted before and now."""

    previous: tuple[str, ...]
    current: tuple[str, ...]


@dataclass(frozen=True)
class DataRequest:
    """customers/data_request."""

    shop_domain: str
    customer_id: str | None
    order_ids: tuple[str, ...]


@dataclass(frozen=True)
class CustomerRedact:
    """customers/redact: erase what is kept about these orders."""

    shop_domain: str
    customer_id: str | None
    order_ids: tuple[str, ...]


@dataclass(frozen=True)
class ShopRedact:
    """shop/redact: 48 hours after uninstall, erase what is kept about the shop."""

    shop_domain: str


Snapshot = Union[
    OrderSnapshot, RefundCreated, DisputeChanged, EditSnapshot, ReturnSnapshot,
    ShopSnapshot, ScopesUpdate, DataRequest, CustomerRedact, ShopRedact,
]
"""Everything a delivery can be read into."""
