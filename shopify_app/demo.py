"""``clawback demo``: a demo shop whose ledger went through the real path (signed-equivalent
deliveries stored in the inbox, then the worker), so what it shows is what production does."""

from __future__ import annotations

import json
import uuid

from shopify_app import payloads, services, utcnow, worker
from shopify_app.config import Config
from shopify_app.db import Database
from shopify_app.inbox import store_delivery
from shopify_app.webhooks.envelope import Envelope

DEMO_SHOP = "clawback-demo.myshopify.com"

_DELIVERIES = [
    ("orders/paid", payloads.order(5001, [(50011, "200.00", 1)], currency="USD", code="ANNA")),
    ("refunds/create", payloads.refund(7001, 5001, [(50011, 1, "200.00")])),
    ("orders/paid", payloads.order(5002, [(50021, "80.00", 1), (50022, "40.00", 1)], code="BEN")),
    ("refunds/create", payloads.refund(7002, 5002, [(50022, 1, "40.00")])),
    ("orders/paid", payloads.order(5003, [(50031, "100.00", 1)], code="ANNA")),
    ("refunds/create", payloads.refund(7003, 5003, [], discrepancy="-30.00")),
    ("refunds/create", payloads.refund(7004, 5004, [(50041, 1, "25.00")])),  # arrives before its order
    ("orders/paid", payloads.order(5004, [(50041, "50.00", 1)], ref="BEN")),
    ("orders/paid", payloads.order(5005, [(50051, "60.00", 1)], code="ANNA")),
    ("disputes/create", payloads.dispute(8001, 5005, "needs_response", amount="60.00")),
    ("disputes/update", payloads.dispute(8001, 5005, "won", amount="60.00")),
]


def seed(database: Database, config: Config) -> str:
    """Seed once; a second run leaves an existing demo shop as it is."""
    now = utcnow()
    with database.transaction() as session:
        if any(s.domain == DEMO_SHOP for s in services.all_shops(session)):
            return f"demo shop {DEMO_SHOP} already seeded"
        shop = services.add_shop(session, DEMO_SHOP, now)
        services.add_affiliate(session, shop, "ANNA", "anna@affiliates.example", now, "20")
        services.add_affiliate(session, shop, "BEN", "ben@affiliates.example", now, "15")
        for topic, payload in _DELIVERIES:
            body = payloads.encode(payload)
            envelope = Envelope(topic=topic, shop_domain=DEMO_SHOP, webhook_id=str(uuid.uuid4()), api_version="2026-07",
                                event_id=None, triggered_at=None, name=None)
            store_delivery(session, envelope, body, {"X-Shopify-Topic": topic}, now)
    report = worker.run(database, config, until_idle=True)
    return f"demo shop {DEMO_SHOP} seeded: {report.tried} deliveries processed ({json.dumps(report.statuses)})"
