"""From a stored delivery to policy events: which events a webhook means for the ledger.

``translate`` reads payloads; this module adds what a payload cannot know on its own:
the shop's affiliates (attribution), whether the order's sale is already known, and the
latest priced order lines (edits and exchanges arrive without prices).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from pydantic import TypeAdapter
from sqlalchemy import select, update
from sqlmodel import Session

from policy.attribution import Candidate, attribute
from policy.events import Event, Referral, SaleLine
from policy.facts import OrderFacts
from shopify_app import services
from shopify_app.codec import facts_to_json
from shopify_app.db import insert_on_conflict
from shopify_app.tables import OrderRow, Shop, WebhookDelivery
from shopify_app.webhooks import translate

ORDER_TOPICS = frozenset({"orders/create", "orders/paid", "orders/updated", "orders/cancelled", "orders/fulfilled", "orders/partially_fulfilled"})
RETURN_TOPICS = frozenset({"returns/request", "returns/approve", "returns/process", "returns/close", "returns/update", "returns/cancel", "returns/decline", "returns/reopen"})
COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})

_LINES = TypeAdapter(tuple[SaleLine, ...])
REDACTED = b'{"redacted": true}'


@dataclass(frozen=True)
class Translation:
    """What a delivery means: events to apply (in order), or a shop-level action done."""

    order_id: str | None
    events: tuple[Event, ...]
    note: str = ""
    acted: bool = False  # a shop-level action was taken (uninstall, privacy request)


def referral_for(session: Session, shop: Shop, clues: translate.Clues) -> tuple[Referral | None, str]:
    """Attribute an order to one of the shop's affiliates (self-referrals get none)."""
    affiliates = {a.code: a for a in services.affiliates(session, shop)}
    found, why = attribute(clues, [Candidate(a.code, a.email) for a in affiliates.values()])
    if found is None:
        return None, why
    row = affiliates[found.code]
    rate = Decimal(row.rate_percent) if row.rate_percent is not None else None
    return Referral(row.code, rate, row.approval_delay_days, row.flagged), why


def _order_row(session: Session, shop: Shop, order_id: str) -> OrderRow | None:
    return session.scalars(select(OrderRow).where(OrderRow.shop_id == shop.id, OrderRow.order_id == order_id)).first()


def _remember_lines(session: Session, shop: Shop, snapshot: translate.OrderSnapshot, now: datetime) -> None:
    """Keep the order's latest priced lines (no customer data) to price later edits and exchanges."""
    lines = _LINES.dump_json(snapshot.lines).decode()
    insert_on_conflict(
        session, OrderRow,
        {"shop_id": shop.id, "order_id": snapshot.order_id, "facts_json": facts_to_json(OrderFacts(snapshot.order_id)),
         "has_sale": False, "parked_count": 0, "lines_json": lines, "created_at": now, "updated_at": now},
        ["shop_id", "order_id"], assign=["lines_json", "updated_at"],
    )


def _priced_snapshot(session: Session, shop: Shop, order_id: str, facts: OrderFacts | None) -> translate.OrderSnapshot:
    row = _order_row(session, shop, order_id)
    if row is None or row.lines_json is None or facts is None or facts.sale is None:
        raise translate.NeedsFetch(f"order {order_id} has no priced lines yet; waiting for an order payload")
    sale = facts.sale
    return translate.OrderSnapshot(
        order_id=order_id, name=sale.order_name, currency=sale.currency, taxes_included=sale.taxes_included,
        paid=True, lines=_LINES.validate_json(row.lines_json), clues=translate.Clues(),
        processed_at=sale.processed_at, cancelled_at=None, fulfilled_at=None, refunds=(),
    )


def _order_notices(session: Session, shop: Shop, topic: str, payload: Mapping[str, Any], now: datetime) -> Translation:
    snapshot = translate.order_from_payload(payload, topic)
    facts = services.order_facts(session, shop, snapshot.order_id)
    _remember_lines(session, shop, snapshot, now)
    events: list[Event] = []
    note = ""
    if snapshot.paid and (facts is None or facts.sale is None):
        referral, note = referral_for(session, shop, snapshot.clues)
        events.append(snapshot.order_paid(referral))
    events.extend(n for n in (snapshot.order_fulfilled(), snapshot.order_cancelled()) if n is not None)
    # refunds/create is the authoritative body of a refund; a copy embedded in an order
    # payload only fills in a refund whose own delivery has not been seen.
    seen = {key for key, _ in facts.seen} if facts else set()
    events.extend(r for r in snapshot.refunds if r.key not in seen)
    return Translation(snapshot.order_id, tuple(events), note)


def translate_delivery(session: Session, shop: Shop, delivery: WebhookDelivery, now: datetime) -> Translation:
    """The events a stored delivery stands for. Raises ``translate.PayloadError`` for bodies
    that will never make sense and ``translate.NeedsFetch`` for ones that may later."""
    topic = delivery.topic
    payload = translate.parse_json(delivery.body)
    if topic in ORDER_TOPICS:
        return _order_notices(session, shop, topic, payload, now)
    if topic == "refunds/create":
        event = translate.refund_from_payload(payload)
        return Translation(event.order_id, (event,))
    if topic in {"disputes/create", "disputes/update"}:
        event = translate.dispute_from_payload(payload)
        return Translation(event.order_id, (event,))
    if topic == "orders/edited":
        delta = translate.edit_from_payload(payload)
        facts = services.order_facts(session, shop, delta.order_id)
        return Translation(delta.order_id, (translate.edit_notice(delta, _priced_snapshot(session, shop, delta.order_id, facts)),))
    if topic in RETURN_TOPICS:
        ret = translate.return_from_payload(payload)
        if topic in {"returns/cancel", "returns/decline", "returns/request", "returns/reopen", "returns/update", "returns/close"}:
            return Translation(ret.order_id, (), f"return {ret.return_id} {ret.status}: nothing exchanged yet")
        if not ret.complete or ret.order_id is None:
            # Thin bodies (returns/close, null exchange line items) must be fetched: the
            # Admin API gateway is not built yet, so the delivery retries, then fails visibly.
            raise translate.NeedsFetch(f"return {ret.return_id} does not list its lines; fetch the Return")
        if not ret.exchanged:
            return Translation(ret.order_id, (), f"return {ret.return_id} {ret.status}: no exchange to apply")
        facts = services.order_facts(session, shop, ret.order_id)
        event = translate.exchange_notice(ret, _priced_snapshot(session, shop, ret.order_id, facts), occurred_at=now)
        return Translation(ret.order_id, (event,) if event else ())
    if topic == "app/uninstalled":
        shop.uninstalled_at = now
        shop.access_token_encrypted = None
        session.add(shop)
        return Translation(None, (), "app uninstalled: access token dropped", acted=True)
    if topic in COMPLIANCE_TOPICS:
        return Translation(None, (), _comply(session, shop, topic, payload, delivery), acted=True)
    return Translation(None, (), f"topic {topic} moves no commission")


def _comply(session: Session, shop: Shop, topic: str, payload: Mapping[str, Any], delivery: WebhookDelivery) -> str:
    """Privacy requests. Ledger amounts stay (they hold no personal data); stored webhook
    bodies, which do, are redacted once processed."""
    if topic == "customers/data_request":
        return "data request: Clawback keeps no customer profile; raw webhook bodies are redacted after processing on request"
    done = WebhookDelivery.status.in_(["done", "ignored", "parked", "failed", "conflict"])
    where = [WebhookDelivery.shop_domain == shop.domain, done]
    if topic == "customers/redact":
        orders = [str(o) for o in payload.get("orders_to_redact") or []]
        where.append(WebhookDelivery.order_id.in_(orders))
    else:
        shop.access_token_encrypted = None
        session.add(shop)
    count = session.execute(update(WebhookDelivery).where(*where).values(body=REDACTED)).rowcount
    delivery.body = REDACTED  # the request itself names the customer
    return f"{topic}: {count} stored bodies redacted"
