"""Apply what Shopify says about one order: lock the order, work out its events, let the
policy engine turn them into records, post them, save the facts. In the caller's
transaction; the records written are returned (the notices outbox will need them).

Webhooks and, later, the Admin API's answers both arrive here as snapshots, so a
reconciler replays missed events through exactly the code live deliveries take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session

from ledger.records import Record
from policy.attribution import Candidate, attribute, code_keys
from policy.engine import Effect, Replayed, apply
from policy.events import DisputeChanged, Referral, RefundCreated
from policy.settings import Settings
from shopify_app.services import events as meaning
from shopify_app.services.shops import shop_settings
from shopify_app.shopify.snapshots import EditSnapshot, OrderSnapshot, ReturnSnapshot
from shopify_app.store import inbox, orders, shops
from shopify_app.store.inbox import DeliveryStatus, Settlement
from shopify_app.store.ledger import LedgerStore
from shopify_app.store.tables import Shop

OrderLevel = OrderSnapshot | RefundCreated | DisputeChanged | EditSnapshot | ReturnSnapshot


@dataclass(frozen=True)
class Applied:
    """What applying one snapshot did."""

    order_id: str
    effects: frozenset[Effect]
    records: tuple[Record, ...]  # written, in order
    notes: tuple[str, ...]  # for the history: attribution, what was not applied and why
    review: tuple[str, ...]  # money held for the merchant's decision
    replayed: tuple[Replayed, ...]  # parked events a sale just replayed
    key: str | None  # the business key of the last event applied


def referral_for(session: Session, shop: Shop, snapshot: OrderSnapshot) -> tuple[Referral | None, str]:
    """Attribute an order to one of the shop's affiliates (self-referrals get none); only the
    affiliates whose codes the order carries are loaded (this runs for every paid order)."""
    rows = {row.code: row for row in shops.affiliates_by_keys(session, shop.id, code_keys(snapshot.clues))}
    found, why = attribute(snapshot.clues, [Candidate(row.code, row.email) for row in rows.values()])
    if found is None:
        return None, why
    row = rows[found.code]
    rate = Decimal(row.rate_percent) if row.rate_percent is not None else None
    return Referral(row.code, rate, row.approval_delay_days, row.flagged), why


def apply_snapshot(
    session: Session, shop: Shop, snapshot: OrderLevel, now: datetime, *, topic: str | None = None, triggered_at: datetime | None = None
) -> Applied:
    """Apply one order-level snapshot; a sale that replays parked events also settles their
    deliveries. Raises ``NeedsFetch`` (too thin yet), ``IdempotencyConflict``,
    ``EventRefused``; the caller's savepoint undoes what was written."""
    locked = orders.lock(session, shop.id, snapshot.order_id, now)
    facts, lines, notes = locked.facts, None, []
    if isinstance(snapshot, OrderSnapshot):
        lines = snapshot.lines
        events, note = meaning.order_events(snapshot, facts, lambda s: referral_for(session, shop, s))
        notes += [note] if note else []
        if shop.currency is None:
            shop.currency = snapshot.currency  # the order's currency is the shop's
            session.add(shop)
    elif isinstance(snapshot, EditSnapshot):
        events = [meaning.edit_event(snapshot, facts, locked.lines)]
    elif isinstance(snapshot, ReturnSnapshot):
        events, note = meaning.return_events(topic, snapshot, facts, locked.lines, triggered_at or now)
        notes += [note] if note else []
    else:
        events = [snapshot]

    settings: Settings = shop_settings(shop)
    store = LedgerStore(session, shop.id)
    records = store.records(snapshot.order_id)
    written: list[Record] = []
    effects: set[Effect] = set()
    review: list[str] = []
    replayed: tuple[Replayed, ...] = ()
    key = None
    for event in events:
        outcome = apply(facts, event, records, settings, now)
        posted = store.post(snapshot.order_id, outcome.drafts, existing=records)
        records, written, facts = records + posted, written + posted, outcome.facts
        effects.add(outcome.effect)
        review += outcome.review
        notes += outcome.notes
        replayed += outcome.replayed
        key = event.key
    orders.save(session, locked, facts, lines, now)
    if replayed:
        inbox.settle_parked(session, shop.domain, snapshot.order_id, replay_settlements(replayed), now)
    return Applied(snapshot.order_id, frozenset(effects), tuple(written), tuple(notes), tuple(review), replayed, key)


def replay_settlements(replayed: tuple[Replayed, ...]) -> dict[str, Settlement]:
    """How each parked event a sale replayed settles its own delivery; applied ones are done."""
    outcomes = {}
    for item in replayed:
        if item.effect is Effect.CONFLICT:
            outcomes[item.key] = Settlement(DeliveryStatus.CONFLICT, item.problem)
        elif item.effect is Effect.REFUSED:
            outcomes[item.key] = Settlement(DeliveryStatus.FAILED, item.problem, retry=not item.final)
        elif item.review:
            outcomes[item.key] = Settlement(DeliveryStatus.REVIEW, "; ".join(item.review))
    return outcomes
