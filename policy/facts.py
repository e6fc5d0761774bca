"""What is known about one order: the sale and every later event, as immutable facts.

Facts only accumulate, and the value of every line is recomputed from all of them
(``policy.values``), so the final nets never depend on the order in which events arrive.
Settings that decide how an event counts (amount-only refunds, upgrades) are frozen into
its fact when it is first applied, so changing a setting never rewrites the past.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from policy.events import (
    DisputeChanged,
    ExchangeProcessed,
    Event,
    OrderEdited,
    RefundCreated,
)
from policy.sale import Sale
from policy.settings import AmountOnlyRefunds, ExchangeUpgrades


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    sale: Sale | None = None
    refunds: tuple[tuple[RefundCreated, AmountOnlyRefunds], ...] = ()
    exchanges: tuple[tuple[ExchangeProcessed, ExchangeUpgrades], ...] = ()
    edits: tuple[tuple[OrderEdited, ExchangeUpgrades], ...] = ()
    disputes: tuple[DisputeChanged, ...] = ()  # the furthest-along delivery per dispute id
    cancelled_at: datetime | None = None
    fulfilled_at: datetime | None = None
    seen: tuple[tuple[str, str], ...] = ()  # idempotency key -> fingerprint, in applied order
    parked: tuple[Event, ...] = ()  # received before the sale, in received order

    # -- reading ---------------------------------------------------------------------------
    def fingerprint_of(self, key: str) -> str | None:
        return next((fp for k, fp in self.seen if k == key), None)

    def dispute(self, dispute_id: str) -> DisputeChanged | None:
        return next((d for d in self.disputes if d.dispute_id == dispute_id), None)

    @property
    def zeroed(self) -> bool:
        """Whether the whole order is worth nothing now: cancelled, or a chargeback stands."""
        return self.cancelled_at is not None or any(d.zeroes_order for d in self.disputes)

    @property
    def chargebacks(self) -> int:
        return sum(1 for d in self.disputes if d.kind == "chargeback")

    # -- growing ---------------------------------------------------------------------------
    def saw(self, key: str, fingerprint: str) -> OrderFacts:
        return replace(self, seen=self.seen + ((key, fingerprint),))

    def with_dispute(self, event: DisputeChanged) -> OrderFacts:
        others = tuple(d for d in self.disputes if d.dispute_id != event.dispute_id)
        return replace(self, disputes=others + (event,))
