"""Filling the inbox directly (as the intake would) and reading the outcome, for worker,
fault and race tests."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

from shopify_app.dev import samples as payloads
from shopify_app.services import ledger as services, shops as registry
from shopify_app.store.engine import Database
from shopify_app.store.inbox import store_delivery
from shopify_app.store.tables import WebhookDelivery

SHOP = "faults.myshopify.com"


def now_iso(offset_days: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=offset_days)).isoformat()


def setup_shop(database: Database, domain: str = SHOP) -> None:
    with database.transaction() as session:
        shop = registry.add_shop(session, domain, datetime.now(timezone.utc))
        registry.add_affiliate(session, shop, "ANNA", "anna@aff.example", datetime.now(timezone.utc), "12.5")
        registry.add_affiliate(session, shop, "BEN", "ben@aff.example", datetime.now(timezone.utc), "10")


def enqueue(database: Database, deliveries: list[tuple[str, dict]], domain: str = SHOP, webhook_ids: list[str] | None = None) -> None:
    now = datetime.now(timezone.utc)
    with database.transaction() as session:
        for index, (topic, payload) in enumerate(deliveries):
            webhook_id = webhook_ids[index] if webhook_ids else str(uuid.uuid4())
            store_delivery(session, webhook_id=webhook_id, shop_domain=domain, topic=topic, api_version="2026-07", event_id=None,
                           triggered_at=None, headers={"x-shopify-topic": topic}, body=payloads.encode(payload), now=now)


def workload(orders: int, seed: int = 7) -> list[tuple[str, dict]]:
    """Orders with 1-3 lines, each refunded in 1-3 parts, some refunds before their order,
    some deliveries duplicated: the same events a reference run gets."""
    rng = random.Random(seed)
    created = now_iso()
    events: list[tuple[str, dict]] = []
    for n in range(orders):
        order_id = 100000 + n
        lines = [(order_id * 10 + k, f"{rng.randint(500, 20000) / 100:.2f}", rng.randint(1, 3)) for k in range(rng.randint(1, 3))]
        paid = ("orders/paid", payloads.order(order_id, lines, code=rng.choice(["ANNA", "BEN"]), created_at=created))
        refunds = []
        for r in range(rng.randint(1, 3)):
            line_id, price, quantity = rng.choice(lines)
            refunds.append(("refunds/create", payloads.refund(order_id * 10 + r, order_id, [(line_id, 1, price)], created_at=created)))
        group = [paid, *refunds]
        if rng.random() < 0.3:
            group = [*refunds[:1], paid, *refunds[1:]]  # a refund before its order
        if rng.random() < 0.3:
            group.append(rng.choice(group))  # a duplicate delivery
        events.extend(group)
    return events


def ledger_outcome(database: Database, domain: str = SHOP) -> list[tuple]:
    """The ledger without ids and times: what must be identical across runs."""
    with database.reading() as session:
        records = services.export_records(session, registry.require_shop(session, domain))
    return sorted((r.order_id, r.line_item_id, r.kind.value, r.source, str(r.amount), str(r.base), r.status.value) for r in records)


def inbox_statuses(database: Database) -> dict[str, int]:
    from sqlalchemy import func, select

    with database.reading() as session:
        return dict(session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all())


def balances_agree(database: Database, domain: str = SHOP) -> bool:
    """The running totals equal the fold over every record (the projection's definition)."""
    with database.reading() as session:
        shop = registry.require_shop(session, domain)
        key = lambda b: (b.affiliate, b.currency)  # noqa: E731
        projected, folded = sorted(services.balances(session, shop), key=key), sorted(services.folded_balances(session, shop), key=key)
    return projected == folded and len(folded) > 0


def nets_by_line(database: Database, domain: str = SHOP) -> dict[tuple[str, str], str]:
    """Net commission per (order, line): what any arrival order must agree on."""
    nets: dict[tuple[str, str], int] = {}
    currency = {}
    with database.reading() as session:
        for record in services.export_records(session, registry.require_shop(session, domain)):
            key = (record.order_id, record.line_item_id)
            nets[key] = nets.get(key, 0) + record.amount.minor
            currency[key] = record.currency
    return {key: f"{value} {currency[key]}" for key, value in sorted(nets.items())}
