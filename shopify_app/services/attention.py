"""Deliveries needing the merchant, and the actions that resolve them: try a failed or parked
one again, accept or reject an amount-only refund held for review (audited: who, when)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from policy.events import ReviewDecided
from shopify_app.services.errors import InvalidInput, NotFound
from shopify_app.services.orders import apply_snapshot
from shopify_app.store import inbox, orders, reviews
from shopify_app.store.inbox import DeliveryStatus
from shopify_app.store.tables import Shop

WORDS = {
    "failed": "Clawback could not apply it",
    "conflict": "The same event arrived twice with different content; the first one was applied",
    "review": "Money refunded beyond the refunded items, held for your decision",
    "parked": "Waiting for its order to arrive paid",
    "received": "Being retried",
}


@dataclass(frozen=True)
class Item:
    id: int
    topic: str
    status: str
    order_id: str | None
    key: str | None
    why: str
    words: str
    received_at: datetime
    attempts: int

    @property
    def can_retry(self) -> bool:
        return self.status in ("failed", "parked")

    @property
    def can_decide(self) -> bool:
        return self.status == "review"


def items(session: Session, shop: Shop, now: datetime, parked_attention_hours: int) -> list[Item]:
    rows = inbox.needing_attention(session, now - timedelta(hours=parked_attention_hours), shop.domain)
    return [
        Item(r.id, r.topic, r.status, r.order_id, r.business_key, r.last_error or "", WORDS.get(r.status, r.status), r.received_at, r.attempts)
        for r in rows
    ]


def count(session: Session, shop_domain: str, now: datetime, parked_attention_hours: int) -> int:
    """How many deliveries of this shop need the merchant (the navigation's badge)."""
    return inbox.count_needing_attention(session, now - timedelta(hours=parked_attention_hours), shop_domain)


def retry(session: Session, shop: Shop, delivery_id: int, now: datetime) -> None:
    if not inbox.retry(session, shop.domain, delivery_id, now):
        raise NotFound(f"delivery {delivery_id} is not one that can be tried again")


def decide(session: Session, shop: Shop, delivery_id: int, accepted: bool, by: str, now: datetime) -> int:
    """Accept or reject the amount held by a ``review`` delivery; returns records written."""
    held = inbox.held_for_review(session, shop.domain, delivery_id)
    if held is None or not (held.business_key or "").startswith("refund:"):
        raise NotFound(f"delivery {delivery_id} holds nothing for review")
    verdict = "accepted" if accepted else "rejected"
    # The order's lock first, as the worker takes it (its batches lock orders, then write
    # their deliveries' rows): taken the other way round, a batch redacting this delivery's
    # body while holding the order would wait for us while we wait for it.
    orders.lock(session, shop.id, held.order_id, now)
    # Settle the delivery first: of two decisions racing, the second finds it settled and
    # its whole unit of work (records, audit row) rolls back.
    if not inbox.resolve_review(session, shop.domain, delivery_id, DeliveryStatus.DONE,
                                f"{verdict} by user {by} at {now:%Y-%m-%d %H:%M} UTC", now):
        raise NotFound(f"delivery {delivery_id} was decided already")
    decision = ReviewDecided(held.order_id, held.business_key.split(":", 1)[1], accepted, by, now)
    applied = apply_snapshot(session, shop, decision, now)
    reviews.record(session, shop.id, delivery_id, held.order_id, held.business_key, accepted, by, now)
    return len(applied.records)


def parse_decision(value: str) -> bool:
    if value not in ("accept", "reject"):
        raise InvalidInput("decide accept or reject")
    return value == "accept"
