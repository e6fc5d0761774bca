"""``clawback demo``: a demo shop whose ledger went through the real path (deliveries stored
in the inbox as the intake stores them, then the worker), so what it shows is what
production does. It lives in its own SQLite file, never in the configured database.

Times are relative to now, so the demo looks the same whatever day it runs: some orders
are past their approval delay (and paid out), some still pending.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from shopify_app import config as configuration
from shopify_app import worker
from shopify_app.clock import utcnow
from shopify_app.config import Config
from shopify_app.dev import samples
from shopify_app.services import ledger, shops as registry
from shopify_app.store import shops
from shopify_app.store.engine import Database
from shopify_app.store.inbox import store_delivery

DEMO_SHOP = "clawback-demo.myshopify.com"


def demo_database_url() -> str:
    return f"sqlite:///{configuration.INSTANCE_DIR / 'demo.sqlite3'}"


PAYOUT_DAYS_AGO = 15
"""The demo's one payout run happened this many days ago: what came later is a clawback."""


def _at(now: datetime, days_ago: float) -> str:
    return (now - timedelta(days=days_ago)).isoformat()


def _before_payout(now: datetime) -> list[tuple[str, dict]]:
    at = lambda days: _at(now, days)  # noqa: E731
    return [
        ("orders/paid", samples.order(5001, [(50011, "200.00", 1)], code="ANNA", created_at=at(50))),
        ("refunds/create", samples.refund(7001, 5001, [(50011, 1, "200.00")], created_at=at(44))),
        ("orders/paid", samples.order(5002, [(50021, "80.00", 1), (50022, "40.00", 1)], code="BEN", created_at=at(45))),
        ("orders/paid", samples.order(5003, [(50031, "100.00", 1)], code="ANNA", created_at=at(48))),
        ("refunds/create", samples.refund(7003, 5003, [], discrepancy="-30.00", created_at=at(33))),
    ]


def _after_payout(now: datetime) -> list[tuple[str, dict]]:
    at = lambda days: _at(now, days)  # noqa: E731
    exchanged = [(50061, "50.00", 1), (50062, "30.00", 1)]
    return [
        ("refunds/create", samples.refund(7002, 5002, [(50022, 1, "40.00")], created_at=at(5))),  # after payout: a clawback
        ("refunds/create", samples.refund(7004, 5004, [(50041, 1, "25.00")], created_at=at(3))),  # before its order
        ("orders/paid", samples.order(5004, [(50041, "50.00", 1)], ref="BEN", created_at=at(6))),
        ("orders/paid", samples.order(5005, [(50051, "60.00", 1)], code="ANNA", created_at=at(12))),
        ("disputes/create", samples.dispute(8001, 5005, "needs_response", amount="60.00", initiated_at=at(8))),
        ("disputes/update", samples.dispute(8001, 5005, "won", amount="60.00", initiated_at=at(8))),
        ("orders/paid", samples.order(5006, exchanged, code="ANNA", created_at=at(9))),
        # A size exchange for a dearer item: the order shows the new line, the return names both.
        ("orders/updated", samples.order(5006, [*exchanged, (50063, "65.00", 1)], code="ANNA", created_at=at(9))),
        ("returns/approve", samples.exchange_return(9001, 5006, returned=[(50061, 1)], exchanged=[(50063, 1)])),
        # Ordered before the payout run but reported after it: approved now, paid by the next run.
        ("orders/paid", samples.order(5007, [(50071, "90.00", 2)], code="BEN", created_at=at(36))),
        # A refund of an order Clawback never saw (placed before the install): waits, shown as needing attention.
        ("refunds/create", samples.refund(7099, 5099, [(50991, 1, "20.00")], created_at=at(3))),
    ]


def _store(database: Database, deliveries: list[tuple[str, dict]], now: datetime) -> None:
    with database.transaction() as session:
        for topic, payload in deliveries:
            store_delivery(session, webhook_id=str(uuid.uuid4()), shop_domain=DEMO_SHOP, topic=topic, api_version="2026-07",
                           event_id=None, triggered_at=now.isoformat(), headers={"x-shopify-topic": topic},
                           body=samples.encode(payload), now=now)


def seed(database: Database, config: Config) -> str:
    """Seed once; a second run leaves an existing demo shop as it is. The older half of the
    history is processed, approved and paid as of ``PAYOUT_DAYS_AGO``; the rest arrives after."""
    now = utcnow()
    paid_at = now - timedelta(days=PAYOUT_DAYS_AGO)
    with database.transaction() as session:
        if shops.find(session, DEMO_SHOP) is not None:
            return f"demo shop {DEMO_SHOP} already seeded"
        shop = registry.add_shop(session, DEMO_SHOP, paid_at, currency="USD")
        registry.add_affiliate(session, shop, "ANNA", "anna@affiliates.example", paid_at, "20")
        registry.add_affiliate(session, shop, "BEN", "ben@affiliates.example", paid_at, "15")
    _store(database, _before_payout(now), paid_at)
    tried = worker.run(database, config, until_idle=True, clock=lambda: paid_at).tried
    with database.transaction() as session:
        shop = shops.find(session, DEMO_SHOP)
        ledger.approve_due(session, shop, paid_at)
        paid = ledger.run_payouts(session, shop, paid_at)
    _store(database, _after_payout(now), now - timedelta(days=3))
    tried += worker.run(database, config, until_idle=True).tried
    with database.transaction() as session:
        ledger.approve_due(session, shops.find(session, DEMO_SHOP), now)
    return f"demo shop {DEMO_SHOP} seeded: {tried} deliveries processed, {len(paid)} payout(s) made"
