"""Payouts made, read back for the admin's history and exports (scoped to one shop)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from shopify_app.store.tables import Payout


def count(session: Session, shop_id: int) -> int:
    return session.execute(select(func.count()).select_from(Payout).where(Payout.shop_id == shop_id)).scalar_one()


def page(session: Session, shop_id: int, offset: int, limit: int) -> list[Payout]:
    query = select(Payout).where(Payout.shop_id == shop_id).order_by(Payout.id.desc()).offset(offset).limit(limit)
    return list(session.scalars(query))


def find(session: Session, shop_id: int, payout_id: int) -> Payout | None:
    return session.scalars(select(Payout).where(Payout.shop_id == shop_id, Payout.id == payout_id)).first()
