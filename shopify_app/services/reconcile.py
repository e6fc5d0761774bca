"""Reconciliation and backfill: read the orders Shopify changed since a moment and apply what
webhooks missed. Every order goes through ``services.orders.apply_snapshot``, the path live
deliveries take, so what was already applied adds nothing (the ledger's keys), and what was
missed lands exactly as it would have.

Each order is applied in its own transaction: one order's conflict is reported, never a stop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from ledger.errors import IdempotencyConflict
from policy.engine import Effect
from policy.errors import EventRefused
from shopify_app.services.errors import NotFound
from shopify_app.services.orders import apply_snapshot
from shopify_app.services.reading import Readers
from shopify_app.shopify.errors import NeedsFetch
from shopify_app.store import shops
from shopify_app.store.engine import Database

log = logging.getLogger("clawback.reconcile")

OVERLAP = timedelta(hours=1)
"""Read back a little before the last run: cursors shift while orders change, and Shopify
may stamp an order's ``updated_at`` a moment before our last read saw it."""


class NoAccess(RuntimeError):
    """The shop holds no working token: its merchant must open the app (or it was registered
    without one)."""


@dataclass
class Catchup:
    orders: int = 0
    records: int = 0
    applied: int = 0  # orders whose events moved something
    problems: list[str] = field(default_factory=list)


def catch_up(
    database: Database, domain: str, since: datetime, now: datetime, readers: Readers,
    progress: Callable[[int], None] = lambda n: None,
) -> Catchup:
    """Apply every order of ``domain`` updated since ``since``; remember ``now`` as the shop's
    last reconciliation. Raises ``NoAccess`` when the shop cannot be read."""
    with database.transaction() as session:
        shop = shops.find(session, domain)
        if shop is None:
            raise NotFound(f"unknown shop {domain!r}")
        reader = readers(session, shop, now)
        reason = shop.needs_auth
    if reader is None:
        raise NoAccess(f"{domain}: {reason or 'no access token: the merchant must open the app'}")
    report = Catchup()
    for order in reader.orders_updated_since(since):
        report.orders += 1
        try:
            with database.transaction() as session:
                shop = shops.find(session, domain)
                applied = apply_snapshot(session, shop, order, now)
        except (IdempotencyConflict, EventRefused, NeedsFetch) as problem:
            report.problems.append(f"order {order.order_id}: {problem}")
            log.warning("reconcile %s order %s: %s", domain, order.order_id, problem)
        else:
            report.records += len(applied.records)
            report.applied += Effect.APPLIED in applied.effects and bool(applied.records)
        progress(report.orders)
    with database.transaction() as session:
        shop = shops.find(session, domain)
        shop.last_reconciled_at = now
        session.add(shop)
    return report


def resume_from(last: datetime | None, installed: datetime) -> datetime:
    """Where a shop's next reconciliation starts: its last run (else its install), less the overlap."""
    return (last or installed) - OVERLAP


def due_since(last: datetime | None, installed: datetime, now: datetime, every: timedelta) -> datetime | None:
    """From when to reconcile a shop now, or None when its last run is recent enough."""
    return None if now - (last or installed) < every else resume_from(last, installed)
