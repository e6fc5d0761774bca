"""The refund-lag insight of one shop, from its records' event times (``policy.insight``)."""

from __future__ import annotations

from sqlmodel import Session

from policy.insight import LagInsight, insight, lag_days
from shopify_app.services.shops import shop_settings
from shopify_app.store.ledger import LedgerStore
from shopify_app.store.tables import Shop


def refund_lags(session: Session, shop: Shop) -> LagInsight:
    lags = [lag_days(refunded_at, ordered_at) for _, _, refunded_at, ordered_at in LedgerStore(session, shop.id).refund_lags()]
    return insight(lags, shop_settings(shop).approval_delay_days)
