"""The app home: what Clawback did this month, in money; what needs the merchant; and the
first-run checklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from ledger.money import Money
from shopify_app.services.attention import count as waiting
from shopify_app.store import shops
from shopify_app.store.ledger import LedgerStore
from shopify_app.store.tables import Shop


@dataclass(frozen=True)
class Month:
    """This month's records in one currency: what was earned, taken back before payout, and
    clawed back after it (or restored after a won dispute, as a positive amount)."""

    currency: str
    commissions: Money
    adjustments: Money
    clawbacks: Money


@dataclass(frozen=True)
class Step:
    label: str
    done: bool
    how: str


@dataclass(frozen=True)
class Overview:
    month: tuple[Month, ...]
    attention: int
    checklist: tuple[Step, ...]


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def overview(session: Session, shop: Shop, now: datetime, parked_attention_hours: int) -> Overview:
    totals: dict[str, dict[str, int]] = {}
    for currency, kind, clawback, total in LedgerStore(session, shop.id).sums_since(month_start(now)):
        part = "commissions" if kind == "commission" else "clawbacks" if clawback else "adjustments"
        by = totals.setdefault(currency, {"commissions": 0, "adjustments": 0, "clawbacks": 0})
        by[part] += total
    month = tuple(Month(c, *(Money(by[p], c) for p in ("commissions", "adjustments", "clawbacks"))) for c, by in sorted(totals.items()))
    attention = waiting(session, shop.domain, now, parked_attention_hours)
    affiliates = shops.affiliate_count(session, shop.id)
    checklist = (
        Step("Choose the approval delay and the default rate", shop.settings_saved_at is not None,
             "Settings: how long commissions wait before they can be paid, and what they earn."),
        Step("Add your first affiliate", affiliates > 0, "Affiliates: their code attributes orders to them."),
        Step("First check against Shopify", shop.last_reconciled_at is not None,
             "Within six hours of installing, and every six hours after, Clawback reads the orders and refunds "
             "Shopify changed, so none is missed."),
    )
    return Overview(month, attention, checklist)
