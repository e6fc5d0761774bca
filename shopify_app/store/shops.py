"""Shops and their affiliates: the rows, read and written in the caller's unit of work.
Validation of what a person typed is the services' job; this module only stores."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlmodel import Session

from shopify_app.store.tables import Affiliate, Shop

_AFFILIATES = Affiliate.__table__


def find(session: Session, domain: str) -> Shop | None:
    return session.scalars(select(Shop).where(Shop.domain == domain)).first()


def lock(session: Session, domain: str) -> Shop | None:
    """The shop's row, locked until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite's
    writer already holds the database), read fresh rather than from the session's cache."""
    query = select(Shop).where(Shop.domain == domain).with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


def all_shops(session: Session) -> list[Shop]:
    return list(session.scalars(select(Shop).order_by(Shop.id)))


def affiliates(session: Session, shop_id: int) -> list[Affiliate]:
    return list(session.scalars(select(Affiliate).where(Affiliate.shop_id == shop_id).order_by(Affiliate.id)))


def find_affiliate(session: Session, shop_id: int, code: str) -> Affiliate | None:
    return session.scalars(select(Affiliate).where(Affiliate.shop_id == shop_id, Affiliate.code_key == code.casefold())).first()


def store_risk(session: Session, shop_id: int, readings: dict[str, dict]) -> None:
    """Keep the risk job's reading of each affiliate (``readings``: code -> column values);
    affiliates without a reading (no records yet) are reset to unflagged."""
    where = _AFFILIATES.c.shop_id == shop_id
    for code, values in readings.items():
        session.execute(update(_AFFILIATES).where(where, _AFFILIATES.c.code == code).values(**values))
    session.execute(update(_AFFILIATES).where(where, _AFFILIATES.c.code.not_in(sorted(readings)))
                    .values(flagged=False, flag_reason=None, refund_rate_percent=None, referred_orders=0, chargebacks=0))


def affiliate_page(session: Session, shop_id: int, offset: int, limit: int) -> tuple[list[Affiliate], int]:
    """One page of the shop's affiliates, by code, and how many there are."""
    where = Affiliate.shop_id == shop_id
    total = session.execute(select(func.count()).select_from(_AFFILIATES).where(_AFFILIATES.c.shop_id == shop_id)).scalar_one()
    rows = session.scalars(select(Affiliate).where(where).order_by(Affiliate.code_key).offset(offset).limit(limit))
    return list(rows), total
