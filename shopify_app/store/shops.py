"""Shops and their affiliates: the rows, read and written in the caller's unit of work.
Validation of what a person typed is the services' job; this module only stores."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlmodel import Session

from shopify_app.store import batch as batches
from shopify_app.store.tables import Affiliate, Shop

_AFFILIATES = Affiliate.__table__


def find(session: Session, domain: str) -> Shop | None:
    return session.scalars(select(Shop).where(Shop.domain == domain)).first()


def lock(session: Session, domain: str) -> Shop | None:
    """The shop's row, locked until the transaction ends (PostgreSQL ``FOR NO KEY UPDATE``;
    SQLite's writer already holds the database), read fresh rather than from the session's
    cache. Not ``FOR UPDATE``: that waits for every transaction that inserted a row pointing
    at the shop (a foreign key takes ``FOR KEY SHARE``), the worker's batches included."""
    query = select(Shop).where(Shop.domain == domain).with_for_update(key_share=True).execution_options(populate_existing=True)
    return session.scalars(query).first()


def all_shops(session: Session) -> list[Shop]:
    return list(session.scalars(select(Shop).order_by(Shop.id)))


def affiliates(session: Session, shop_id: int) -> list[Affiliate]:
    return list(session.scalars(select(Affiliate).where(Affiliate.shop_id == shop_id).order_by(Affiliate.id)))


def affiliates_by_keys(session: Session, shop_id: int, keys: set[str]) -> list[Affiliate]:
    """The shop's affiliates whose code keys (case-folded codes) are among ``keys``: as the
    open batch holds them (``hold_affiliates``), or read."""
    if not keys:
        return []
    batch = batches.current(session)
    if batch is not None and all((shop_id, key) in batch.affiliates for key in keys):
        return [found for key in sorted(keys) if (found := batch.affiliates[(shop_id, key)]) is not None]
    return list(session.scalars(select(Affiliate).where(Affiliate.shop_id == shop_id, Affiliate.code_key.in_(sorted(keys)))))


def hold_affiliates(session: Session, shop_id: int, keys: set[str]) -> None:
    """Read the shop's affiliates with these code keys in one statement and hold them (and
    which keys name none) in the open batch: each paid order of the batch looks its codes up."""
    batch = batches.current(session)
    if batch is None or not keys:
        return
    found = {row.code_key: row for row in session.scalars(select(Affiliate).where(Affiliate.shop_id == shop_id, Affiliate.code_key.in_(sorted(keys))))}
    batch.affiliates.update({(shop_id, key): found.get(key) for key in keys})


def find_affiliate(session: Session, shop_id: int, code: str) -> Affiliate | None:
    return session.scalars(select(Affiliate).where(Affiliate.shop_id == shop_id, Affiliate.code_key == code.casefold())).first()


def store_risk(session: Session, shop_id: int, readings: dict[str, dict]) -> None:
    """Keep the risk job's reading of each affiliate (``readings``: code -> column values)."""
    where = _AFFILIATES.c.shop_id == shop_id
    for code, values in readings.items():
        session.execute(update(_AFFILIATES).where(where, _AFFILIATES.c.code == code).values(**values))


def affiliate_count(session: Session, shop_id: int) -> int:
    return session.execute(select(func.count()).select_from(_AFFILIATES).where(_AFFILIATES.c.shop_id == shop_id)).scalar_one()


def affiliate_page(session: Session, shop_id: int, offset: int, limit: int) -> list[Affiliate]:
    """One page of the shop's affiliates, by code."""
    return list(session.scalars(select(Affiliate).where(Affiliate.shop_id == shop_id).order_by(Affiliate.code_key).offset(offset).limit(limit)))
