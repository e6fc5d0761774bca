"""Ledger records: immutable values, one per line item and per event that moved its commission.

A *commission* record is written once per line item of a referred order. Every later change
is an *adjustment* record that pairs with that commission (``pairs_with``), carries a reason
a person can read, and names the event that caused it (``source``). Records are never
edited: a record's ``status`` moves forward (pending -> approved -> paid) through separate,
append-only transitions kept by the store, and the ``status`` field of a loaded record is
its status at load time.

Sign convention: positive = owed to the affiliate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Iterable

from ledger.errors import InvariantViolation
from ledger.money import Money


class Kind(StrEnum):
    COMMISSION = "commission"
    REFUND = "refund"
    EXCHANGE = "exchange"
    CHARGEBACK = "chargeback"
    REINSTATEMENT = "reinstatement"
    CANCELLATION = "cancellation"
    MANUAL = "manual"


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    PAID = "paid"
    REJECTED = "rejected"


@dataclass(frozen=True, kw_only=True)
class Draft:
    """A record computed by policy, not yet posted (no id, and ``pairs_with`` unresolved).

    ``event_key`` is the idempotency key of the causing event (``refund:9``,
    ``dispute:4:won``); with ``line_item_id`` it identifies the record uniquely, so posting
    the same draft twice is a no-op and a different draft under the same key is a conflict.
    ``source`` is the display form of the cause (``dispute:4``). ``occurred_at`` is when
    the causing event happened at Shopify (order processed, refund created, dispute opened),
    ``created_at`` when the record was written: the lag from order to refund is read from
    the former, whatever delays the webhooks had.
    """

    order_id: str
    line_item_id: str
    affiliate: str
    kind: Kind
    status: Status
    amount: Money
    base: Money
    rate: Decimal
    clawback: bool
    reason: str
    source: str
    event_key: str
    occurred_at: datetime
    created_at: datetime
    approves_at: datetime | None

    @property
    def identity(self) -> tuple[str, str, str]:
        """The record's idempotency identity within one shop."""
        return (self.order_id, self.event_key, self.line_item_id)

    def same_content(self, other: Draft) -> bool:
        """Whether two drafts of one identity say the same thing about money.

        Compares what the event determines (kind, amounts, base, rate, affiliate), not
        when it was computed or its status at that moment.
        """
        return (
            self.kind == other.kind
            and self.amount == other.amount
            and self.base == other.base
            and self.rate == other.rate
            and self.affiliate == other.affiliate
        )


@dataclass(frozen=True, kw_only=True)
class Record(Draft):
    """A posted record: ``id`` is its place in the shop's ledger (ascending = creation order)."""

    id: int
    pairs_with: int | None

    @property
    def currency(self) -> str:
        return self.amount.currency


def net_by_line(records: Iterable[Draft]) -> dict[tuple[str, str], int]:
    """Net commission in minor units per ``(order_id, line_item_id)``."""
    totals: dict[tuple[str, str], int] = {}
    for record in records:
        key = (record.order_id, record.line_item_id)
        totals[key] = totals.get(key, 0) + record.amount.minor
    return totals



_FORWARD = {Status.PENDING: {Status.APPROVED, Status.REJECTED}, Status.APPROVED: {Status.PAID}}


def check_transition(current: Status, new: Status) -> None:
    """Statuses move forward only: pending -> approved -> paid (or pending -> rejected)."""
    if new not in _FORWARD.get(current, set()):
        raise InvariantViolation(f"status cannot move from {current} to {new}")
