"""The audit of merchants' decisions on money held for review: insert-only."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from shopify_app.store.tables import ReviewDecision


def record(session: Session, shop_id: int, delivery_id: int, order_id: str, key: str, accepted: bool, by: str, at: datetime) -> None:
    session.add(ReviewDecision(shop_id=shop_id, delivery_id=delivery_id, order_id=order_id, event_key=key, accepted=accepted,
                               decided_by=by, decided_at=at))
