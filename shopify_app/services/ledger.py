"""Ledger use cases: approvals, payouts, affiliate risk, balances and exports, per shop, in the
caller's unit of work. Each returns what it did (ids approved, payouts created)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from ledger.balances import Balance, fold_balances
from ledger.money import Money
from ledger.payouts import plan_payouts
from ledger.records import Record, Status
from policy.approval import due_for_approval
from policy.risk import affiliate_risk
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
    """Recompute every affiliate's flag from its records; returns the codes now flagged."""
    risks = affiliate_risk(LedgerStore(session, shop.id).records(), as_of, shop_settings(shop))
    flagged = {code for code, risk in risks.items() if risk.flagged}
    shops.set_flagged(session, shop.id, flagged)
    return sorted(flagged)


def run_payouts(session: Session, shop: Shop, as_of: datetime) -> list[Payout]:
    """Pay every affiliate whose approved, unpaid records sum to at least the minimum."""
    store = LedgerStore(session, shop.id)
    approved = store.records_in_status(Status.APPROVED)
    settings = shop_settings(shop)
    minimum = {r.currency: Money.rounded(settings.minimum_payout, r.currency) for r in approved}
    return [store.pay(p.affiliate, p.currency, p.record_ids, p.total, as_of) for p in plan_payouts(approved, minimum)]


def balances(session: Session, shop: Shop) -> list[Balance]:
    """Balances per affiliate from the running totals (checked against the fold in tests)."""
    return LedgerStore(session, shop.id).balances()


def folded_balances(session: Session, shop: Shop) -> list[Balance]:
    """Balances folded from every record: the definition ``balances`` must always equal."""
    return list(fold_balances(LedgerStore(session, shop.id).records()).values())


def export_records(session: Session, shop: Shop, order_id: str | None = None) -> list[Record]:
    return LedgerStore(session, shop.id).records(order_id)
