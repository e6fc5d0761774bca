"""Application services: each loads state, calls one pure function of ``policy``/``ledger``,
and writes the result, inside the caller's transaction. They take primitives and events,
never Flask objects, and read no clock: ``now`` is passed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from shopify.utils.shop_url import sanitize_shop_domain
from sqlmodel import Session

from ledger.balances import Balance, fold_balances
from ledger.money import Money
from ledger.payouts import plan_payouts
from ledger.records import Record, Status
from policy.approval import due_for_approval
from policy.engine import Outcome, apply
from policy.facts import OrderFacts
from policy.events import Event
from policy.settings import SettingError, Settings, parse
from policy.risk import affiliate_risk
from shopify_app.db import insert_on_conflict
from shopify_app.codec import facts_from_json, facts_to_json
from shopify_app.store import LedgerStore
from shopify_app.tables import Affiliate, OrderRow, Payout, Shop


class NotFound(LookupError):
    """An unknown shop, affiliate or order: a one-line error for the CLI and a 404 on HTTP."""


# -- shops and affiliates ------------------------------------------------------------------


def find_shop(session: Session, domain: str) -> Shop:
    shop = session.scalars(select(Shop).where(Shop.domain == domain)).first()
    if shop is None:
        raise NotFound(f"unknown shop {domain!r}; add it with: clawback shop add {domain}")
    return shop


def shop_settings(shop: Shop) -> Settings:
    return Settings.from_strings(json.loads(shop.settings_json or "{}"))


def update_settings(shop: Shop, assignments: dict[str, str]) -> Settings:
    settings = shop_settings(shop).updated(assignments)
    shop.settings_json = json.dumps(settings.as_strings(), sort_keys=True)
    return settings


def affiliates(session: Session, shop: Shop) -> list[Affiliate]:
    return list(session.scalars(select(Affiliate).where(Affiliate.shop_id == shop.id).order_by(Affiliate.id)))


def find_affiliate(session: Session, shop: Shop, code: str) -> Affiliate | None:
    return session.scalars(select(Affiliate).where(Affiliate.shop_id == shop.id, Affiliate.code_key == code.casefold())).first()


# -- orders ---------------------------------------------------------------------------------


@dataclass
class LockedOrder:
    row: OrderRow
    facts: OrderFacts


def lock_order(session: Session, shop: Shop, order_id: str, now: datetime) -> LockedOrder:
    """The order's row, created if new and locked for this transaction.

    On PostgreSQL ``FOR UPDATE`` makes two workers applying events of one order take
    turns, so neither recalculates on stale records; on SQLite the writer already holds
    the database lock (``BEGIN IMMEDIATE``).
    """
    insert_on_conflict(
        session, OrderRow,
        {"shop_id": shop.id, "order_id": order_id, "facts_json": facts_to_json(OrderFacts(order_id)),
         "has_sale": False, "parked_count": 0, "created_at": now, "updated_at": now},
        ["shop_id", "order_id"],
    )
    row = session.scalars(
        select(OrderRow)
        .where(OrderRow.shop_id == shop.id, OrderRow.order_id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)  # what the lock protects, not a cached copy
    ).one()
    return LockedOrder(row, facts_from_json(row.facts_json))


def apply_event(session: Session, shop: Shop, event: Event, now: datetime) -> Outcome:
    """Apply one event to its order in the caller's transaction: facts and records together."""
    locked = lock_order(session, shop, event.order_id, now)
    store = LedgerStore(session, shop.id)
    records = store.records(event.order_id)
    outcome = apply(locked.facts, event, records, shop_settings(shop), now)
    store.post(event.order_id, outcome.drafts, existing=records)
    facts = outcome.facts
    locked.row.facts_json = facts_to_json(facts)
    locked.row.has_sale = facts.sale is not None
    locked.row.affiliate = facts.sale.affiliate if facts.sale else None
    locked.row.parked_count = len(facts.parked)
    locked.row.updated_at = now
    session.add(locked.row)
    session.flush()
    return outcome


def order_facts(session: Session, shop: Shop, order_id: str) -> OrderFacts | None:
    row = session.scalars(select(OrderRow).where(OrderRow.shop_id == shop.id, OrderRow.order_id == order_id)).first()
    return facts_from_json(row.facts_json) if row else None


# -- approvals, payouts, balances ---------------------------------------------------------------


def approve_due(session: Session, shop: Shop, as_of: datetime) -> list[int]:
    store = LedgerStore(session, shop.id)
    pending = store.records_in_status(Status.PENDING)
    waiting = {r.order_id for r in pending if r.approves_at is None}
    by_order = {}
    for order_id in waiting:
        facts = order_facts(session, shop, order_id)
        if facts is not None and facts.sale is not None:
            by_order[order_id] = facts.sale.approves_at(facts.fulfilled_at)
    ids = due_for_approval(pending, as_of, by_order)
    store.approve(ids, as_of)
    return ids


def refresh_risk(session: Session, shop: Shop, as_of: datetime) -> list[str]:
    """Recompute every affiliate's flag from its records; returns the codes now flagged."""
    risks = affiliate_risk(LedgerStore(session, shop.id).records(), as_of, shop_settings(shop))
    flagged = []
    for row in affiliates(session, shop):
        signal = risks.get(row.code)
        row.flagged = bool(signal and signal.flagged)
        session.add(row)
        if row.flagged:
            flagged.append(row.code)
    return flagged


def run_payouts(session: Session, shop: Shop, as_of: datetime) -> list[Payout]:
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


# -- registration ---------------------------------------------------------------------------


class InvalidInput(ValueError):
    """Input a person typed is not valid (bad shop domain, code, email, rate)."""


def valid_shop_domain(domain: str) -> str:
    """The shop's ``*.myshopify.com`` host, or ``InvalidInput``.

    Uses ShopifyAPI's anchored check (``sanitize_shop_domain``): ShopifyAPI's ``Session``
    would otherwise rewrite ``https://evil.com`` into ``evil.myshopify.com``.
    """
    cleaned = sanitize_shop_domain((domain or "").strip().lower())
    if not cleaned:
        raise InvalidInput(f"not a valid shop domain: {domain!r} (expected NAME.myshopify.com)")
    return cleaned.lower()


def add_shop(session: Session, domain: str, now: datetime, encrypted_token: str | None = None) -> Shop:
    domain = valid_shop_domain(domain)
    shop = session.scalars(select(Shop).where(Shop.domain == domain)).first()
    if shop is None:
        shop = Shop(domain=domain, installed_at=now, settings_json=json.dumps(Settings().as_strings(), sort_keys=True))
    shop.uninstalled_at = None
    if encrypted_token is not None:
        shop.access_token_encrypted = encrypted_token
    session.add(shop)
    session.flush()
    return shop


_CODE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def add_affiliate(
    session: Session,
    shop: Shop,
    code: str,
    email: str,
    now: datetime,
    rate_percent: str | None = None,
    approval_delay_days: int | None = None,
) -> Affiliate:
    code = (code or "").strip()
    if not code or len(code) > 64 or set(code) - _CODE_CHARS:
        raise InvalidInput(f"not a valid affiliate code: {code!r} (letters, digits, - and _, at most 64)")
    email = (email or "").strip()
    if "@" not in email or " " in email:
        raise InvalidInput(f"not a valid email: {email!r}")
    rate = None
    if rate_percent is not None:
        try:
            rate = str(parse("default_rate_percent", str(rate_percent)))
        except SettingError:
            raise InvalidInput(f"rate must be a percentage from 0 to 100, got {rate_percent!r}") from None
    if approval_delay_days is not None and approval_delay_days < 0:
        raise InvalidInput("approval delay must not be negative")
    if find_affiliate(session, shop, code) is not None:
        raise InvalidInput(f"affiliate code {code!r} already exists in {shop.domain}")
    affiliate = Affiliate(
        shop_id=shop.id, code=code, code_key=code.casefold(), email=email, rate_percent=rate,
        approval_delay_days=approval_delay_days, created_at=now,
    )
    session.add(affiliate)
    session.flush()
    return affiliate


def all_shops(session: Session) -> list[Shop]:
    return list(session.scalars(select(Shop).order_by(Shop.id)))


def payout_json(payout: Payout) -> dict:
    return {
        "id": str(payout.id),
        "affiliate": payout.affiliate,
        "currency": payout.currency,
        "total": str(Money(payout.total_minor, payout.currency)),
        "records": payout.record_count,
        "created_at": payout.created_at.isoformat(),
    }
