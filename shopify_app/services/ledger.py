"""Ledger use cases: approvals, payouts, affiliate risk, balances and exports, per shop, in the
caller's unit of work. Each returns what it did (ids approved, payouts created)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from ledger.balances import Balance, fold_balances
from ledger.money import Money
from ledger.payouts import PayoutPlan, plan_payouts
from ledger.records import Kind, Record, Status
from policy.approval import due_for_approval
from policy.risk import WINDOW as RISK_WINDOW, Risk, affiliate_risk
from policy.settings import Settings
from shopify_app.services.errors import NotFound
from shopify_app.services.shops import shop_settings
from shopify_app.store import orders, shops
from shopify_app.store.ledger import LedgerStore
from shopify_app.store.tables import Payout, Shop


def approve_due(session: Session, shop: Shop, as_of: datetime) -> list[int]:
    """Approve every pending record whose time has come at ``as_of``; returns their ids."""
    store = LedgerStore(session, shop.id)
    pending = store.records_in_status(Status.PENDING)
    by_order = {}
    for order_id in {r.order_id for r in pending if r.approves_at is None}:  # waiting for fulfilment
        facts = orders.facts_of(session, shop.id, order_id)
        if facts is not None and facts.sale is not None:
            by_order[order_id] = facts.sale.approves_at(facts.fulfilled_at)
    ids = due_for_approval(pending, as_of, by_order)
    store.approve(ids, as_of)
    return ids


def refresh_risk(session: Session, shop: Shop, as_of: datetime) -> list[str]:
    """Recompute every affiliate's risk from its records and keep it (with why a flag was
    raised, in words); returns the codes now flagged."""
    settings = shop_settings(shop)
    stored = {a.code: a for a in shops.affiliates(session, shop.id)}
    risks = affiliate_risk(LedgerStore(session, shop.id).risk_records(as_of - RISK_WINDOW), as_of, settings, stored)
    readings = {
        code: {"flagged": risk.flagged, "flag_reason": flag_reason(risk, settings), "refund_rate_percent": str(risk.refund_rate_percent),
               "referred_orders": risk.orders, "chargebacks": risk.chargebacks}
        for code, risk in risks.items()
    }
    # Write only what changed: the job runs every idle minute, and on SQLite a write holds the
    # lock the intake needs.
    shops.store_risk(session, shop.id, {
        code: values for code, values in readings.items()
        if code not in stored or any(getattr(stored[code], column) != value for column, value in values.items())
    })
    return sorted(code for code, risk in risks.items() if risk.flagged)


def flag_reason(risk: Risk, settings: Settings) -> str | None:
    """Why an affiliate is flagged, as the merchant reads it; None when it is not."""
    if not risk.flagged:
        return None
    reasons = []
    if settings.chargeback_threshold and risk.chargebacks >= settings.chargeback_threshold:
        reasons.append(f"{risk.chargebacks} chargebacks (threshold {settings.chargeback_threshold})")
    if settings.refund_rate_threshold_percent and risk.refund_rate_percent >= settings.refund_rate_threshold_percent:
        reasons.append(f"refund rate {risk.refund_rate_percent} % over {risk.orders} orders in 90 days "
                       f"(threshold {settings.refund_rate_threshold_percent} %)")
    return "; ".join(reasons)


def due_payouts(session: Session, shop: Shop) -> tuple[list[Record], list[PayoutPlan]]:
    """The approved, unpaid records, and the payouts they make: every affiliate whose records
    sum to at least the shop's minimum (rounded to each currency)."""
    approved = LedgerStore(session, shop.id).records_in_status(Status.APPROVED)
    minimum = shop_settings(shop).minimum_payout
    return approved, plan_payouts(approved, {r.currency: Money.rounded(minimum, r.currency) for r in approved})


def pay(session: Session, shop: Shop, plans: list[PayoutPlan], as_of: datetime) -> list[Payout]:
    """Pay the plans in (affiliate, currency) order: each moves its affiliate's balance totals,
    and the worker's batches write theirs in that key order too, so the two never deadlock."""
    store = LedgerStore(session, shop.id)
    return [store.pay(p.affiliate, p.currency, p.record_ids, p.total, as_of) for p in sorted(plans, key=lambda p: (p.affiliate, p.currency))]


def run_payouts(session: Session, shop: Shop, as_of: datetime) -> list[Payout]:
    """Pay every affiliate whose approved, unpaid records sum to at least the minimum."""
    return pay(session, shop, due_payouts(session, shop)[1], as_of)


def balances(session: Session, shop: Shop) -> list[Balance]:
    """Balances per affiliate from the running totals (checked against the fold in tests)."""
    return LedgerStore(session, shop.id).balances()


def folded_balances(session: Session, shop: Shop) -> list[Balance]:
    """Balances folded from every record: the definition ``balances`` must always equal."""
    return list(fold_balances(LedgerStore(session, shop.id).records()).values())


def export_records(session: Session, shop: Shop, order_id: str | None = None) -> list[Record]:
    return LedgerStore(session, shop.id).records(order_id)


@dataclass(frozen=True)
class OrderLine:
    """One line of an order as its records tell it: the commission, every adjustment paired
    with it (oldest first), and the net."""

    line_item_id: str
    commission: Record
    adjustments: tuple[Record, ...]
    net: Money


@dataclass(frozen=True)
class OrderView:
    order_id: str
    name: str
    currency: str
    processed_at: datetime | None
    lines: tuple[OrderLine, ...]
    net: Money


def order_view(session: Session, shop: Shop, order_id: str) -> OrderView:
    """The records of one order of this shop, line by line. ``NotFound`` when it has none."""
    records = LedgerStore(session, shop.id).records(order_id)
    if not records:
        raise NotFound(f"no commission was recorded for order {order_id[:30]} in {shop.domain}")
    facts = orders.facts_of(session, shop.id, order_id)
    sale = facts.sale if facts is not None else None
    currency = records[0].currency
    lines = []
    for commission in (r for r in records if r.kind is Kind.COMMISSION):
        adjustments = tuple(r for r in records if r.pairs_with == commission.id)
        lines.append(OrderLine(commission.line_item_id, commission, adjustments,
                               Money(commission.amount.minor + sum(a.amount.minor for a in adjustments), currency)))
    return OrderView(order_id, sale.order_name if sale else f"#{order_id}", currency, sale.processed_at if sale else None,
                     tuple(lines), Money(sum(r.amount.minor for r in records), currency))
