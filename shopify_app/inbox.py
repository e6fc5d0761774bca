"""The webhook inbox: every verified delivery is stored here before Shopify gets its 200.

The worker takes rows from here later; nothing in this module processes a payload.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Mapping

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from shopify_app.db import insert_on_conflict
from shopify_app.tables import WebhookDelivery
from shopify_app.webhooks.envelope import Envelope

__all__ = ["counts_by_status", "store_delivery"]


def store_delivery(
    session: Session | Connection,
    envelope: Envelope,
    raw_body: bytes,
    headers: Mapping[str, str],
    now: datetime,
    status: str = "received",
    error: str | None = None,
) -> bool:
    """Insert the delivery in the caller's transaction; False when its webhook id is already stored.

    ``INSERT ... ON CONFLICT (webhook_id) DO NOTHING``: a duplicate (a Shopify retry, or two
    copies racing) neither fails nor aborts the transaction, on SQLite and PostgreSQL alike.
    """
    params = {
        "webhook_id": envelope.webhook_id,
        "shop_domain": envelope.shop_domain,
        "topic": envelope.topic,
        "event_id": envelope.event_id,
        "api_version": envelope.api_version,
        "triggered_at": envelope.triggered_at,
        "received_at": now,
        "headers_json": json.dumps(dict(headers), sort_keys=True),
        "body": bytes(raw_body),
        "status": status,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": error,
        "order_id": None,
    }
    result = insert_on_conflict(session, WebhookDelivery, params, ["webhook_id"])
    return result.rowcount == 1


def counts_by_status(session: Session) -> dict[str, int]:
    """How many deliveries are in each status (statuses with none are left out)."""
    rows = session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all()
    return {status: count for status, count in rows}
