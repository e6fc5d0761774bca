"""Recalculate, then append the difference: the one entry point that turns events into records.

``apply(facts, event, records, settings, now)`` is pure. It checks the event's
idempotency key, adds the event to what is known about the order, recomputes the target
of every line (``policy.values``) and returns one adjustment draft per line whose net
differs from its target. An event for an order whose sale is not known yet is parked in
the facts and replayed, in received order, when the sale arrives, so the records come out
exactly as if the events had arrived in order.

Status of an adjustment: pending while its commission is pending (they approve together),
approved at once when the commission is approved or paid; a change to a paid commission
is a clawback, netted against the next payout.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Sequence

from ledger.errors import IdempotencyConflict
from ledger.money import Money
from ledger.records import Draft, Kind, Record, Status
from policy.facts import OrderFacts
from policy.events import (
    DisputeChanged,
    ExchangeProcessed,
    Event,
    OrderCancelled,
    OrderEdited,
    OrderFulfilled,
    OrderPaid,
    RefundCreated,
    fingerprint,
)
from policy.sale import Sale, record_sale
from policy.settings import AmountOnlyRefunds, Settings
from policy.values import LineValue, line_values


class Effect(StrEnum):
    APPLIED = "applied"  # known now; records written where money moved
    DUPLICATE = "duplicate"  # this key was already applied with the same content
    PARKED = "parked"  # the order's sale is not known yet; kept and replayed later
    IGNORED = "ignored"  # known but moves nothing (a second paid payload, an older dispute status)


@dataclass(frozen=True)
class Outcome:
    facts: OrderFacts
    drafts: tuple[Draft, ...]
    effect: Effect
    notes: tuple[str, ...] = ()  # for the history: why something was not applied
    review: tuple[str, ...] = ()  # money held for a merchant's decision (amount_only_refunds=review)


@dataclass
class _Line:
    """A line's running state while one event is applied."""

    net: int
    value: int
    status: Status
    approves_at: datetime | None


def _source(event: Event) -> str:
    if isinstance(event, DisputeChanged):
        return f"dispute:{event.dispute_id}"
    return event.key


def _kind(event: Event, diff: int) -> Kind:
    if isinstance(event, DisputeChanged):
        return Kind.CHARGEBACK if diff < 0 else Kind.REINSTATEMENT
    return {
        RefundCreated: Kind.REFUND,
        ExchangeProcessed: Kind.EXCHANGE,
        OrderEdited: Kind.EXCHANGE,
        OrderCancelled: Kind.CANCELLATION,
    }.get(type(event), Kind.MANUAL)


def _reason(event: Event, sale: Sale, before: _Line, after: LineValue, after_payout: bool) -> str:
    cur = sale.currency
    value = f"{Money(after.value, cur)} {cur}"
    if isinstance(event, RefundCreated):
        text = f"Refund {event.refund_id} on order {sale.order_name}: commission recalculated on {value} kept"
    elif isinstance(event, ExchangeProcessed):
        text = f"Exchange (return {event.return_id}) on order {sale.order_name}: commission recalculated on {value}"
    elif isinstance(event, OrderEdited):
        text = f"Order {sale.order_name} edited (edit {event.edit_id}): commission recalculated on {value}"
    elif isinstance(event, DisputeChanged) and after.target.minor < before.net:
        text = f"Chargeback {event.dispute_id} on order {sale.order_name} ({event.status}): commission reversed while it stands"
    elif isinstance(event, DisputeChanged):
        text = f"Dispute {event.dispute_id} on order {sale.order_name} {event.status}: commission reinstated on {value}"
    else:
        text = f"Order {sale.order_name} cancelled: remaining commission reversed"
    if not after_payout:
        return text
    if after.target.minor < before.net:
        return text + "; already paid, so it is deducted from the next payout"
    return text + "; already paid, so it is added to the next payout"


def _lines(facts: OrderFacts, records: Sequence[Record]) -> dict[str, _Line]:
    lines: dict[str, _Line] = {}
    for record in records:
        if record.order_id != facts.order_id:
            continue
        line = lines.get(record.line_item_id)
        if record.kind is Kind.COMMISSION:
            lines[record.line_item_id] = _Line(
                net=record.amount.minor + (line.net if line else 0),
                value=record.base.minor + (line.value if line else 0),
                status=record.status,
                approves_at=record.approves_at,
            )
        elif line is not None:
            line.net += record.amount.minor
            line.value += record.base.minor
    return lines


def _commission_drafts(sale: Sale, facts: OrderFacts, now: datetime) -> list[Draft]:
    approves_at = sale.approves_at(facts.fulfilled_at)
    return [
        Draft(
            order_id=sale.order_id,
            line_item_id=line.line_item_id,
            affiliate=sale.affiliate,
            kind=Kind.COMMISSION,
            status=Status.PENDING,
            amount=line.amount,
            base=line.base,
            rate=line.rate,
            clawback=False,
            reason=f"Order {sale.order_name} paid: {line.rate}% of {line.base} {sale.currency}"
            + (f" ({line.title})" if line.title else ""),
            source=f"order:{sale.order_id}",
            event_key=f"order:{sale.order_id}",
            created_at=now,
            approves_at=approves_at,
        )
        for line in sale.lines
        if sale.affiliate is not None
    ]


def _adjustments(facts: OrderFacts, event: Event, lines: dict[str, _Line], now: datetime) -> list[Draft]:
    """One draft per line whose net differs from its recomputed target."""
    sale = facts.sale
    assert sale is not None
    drafts = []
    for line_id, after in line_values(facts).items():
        before = lines.get(line_id)
        if before is None or sale.affiliate is None:
            continue
        diff = after.target.minor - before.net
        if diff == 0:
            continue
        # interfaces.md: true when the paired commission was already paid when this was written.
        clawback = before.status is Status.PAID
        status = {Status.PENDING: Status.PENDING, Status.REJECTED: Status.REJECTED}.get(before.status, Status.APPROVED)
        line = sale.line(line_id)
        drafts.append(
            Draft(
                order_id=sale.order_id,
                line_item_id=line_id,
                affiliate=sale.affiliate,
                kind=_kind(event, diff),
                status=status,
                amount=Money(diff, sale.currency),
                base=Money(after.value - before.value, sale.currency),
                rate=line.rate,
                clawback=clawback,
                reason=_reason(event, sale, before, after, clawback),
                source=_source(event),
                event_key=event.key,
                created_at=now,
                approves_at=before.approves_at if status is Status.PENDING else None,
            )
        )
        before.net, before.value = after.target.minor, after.value
    return drafts


def _record(facts: OrderFacts, event: Event, settings: Settings) -> tuple[OrderFacts, Effect, tuple[str, ...]]:
    """Add a (non-sale) event to the facts; settings that decide how it counts are frozen in.
    Returns the grown facts, the effect, and what is held for review."""
    if isinstance(event, RefundCreated):
        notes = ()
        if event.discrepancy < 0 and settings.amount_only_refunds is AmountOnlyRefunds.REVIEW:
            notes = (f"refund {event.refund_id}: {-event.discrepancy} refunded beyond its line items, held for review",)
        return replace(facts, refunds=facts.refunds + ((event, settings.amount_only_refunds),)), Effect.APPLIED, notes
    if isinstance(event, ExchangeProcessed):
        return replace(facts, exchanges=facts.exchanges + ((event, settings.exchange_upgrades),)), Effect.APPLIED, ()
    if isinstance(event, OrderEdited):
        return replace(facts, edits=facts.edits + ((event, settings.exchange_upgrades),)), Effect.APPLIED, ()
    if isinstance(event, OrderCancelled):
        if facts.cancelled_at is not None:
            return facts, Effect.IGNORED, ()
        return replace(facts, cancelled_at=event.cancelled_at), Effect.APPLIED, ()
    if isinstance(event, OrderFulfilled):
        if facts.fulfilled_at is not None:
            return facts, Effect.IGNORED, ()
        return replace(facts, fulfilled_at=event.fulfilled_at), Effect.APPLIED, ()
    if isinstance(event, DisputeChanged):
        known = facts.dispute(event.dispute_id)
        if known is not None and known.status in {"won", "lost"} and event.status in {"won", "lost"} and known.status != event.status:
            raise IdempotencyConflict(f"dispute:{event.dispute_id}", f"already {known.status}, now {event.status}")
        if known is not None and known.rank >= event.rank:
            return facts, Effect.IGNORED, ()  # older news, or the same stage again
        return facts.with_dispute(event), Effect.APPLIED, ()
    raise TypeError(f"not an event: {event!r}")


def _check_key(facts: OrderFacts, event: Event) -> bool:
    """True when the key was already applied or parked with the same content; raises on a conflict."""
    known = facts.fingerprint_of(event.key)
    if known is None:
        known = next((fingerprint(p) for p in facts.parked if p.key == event.key), None)
    if known is None:
        return False
    if known != fingerprint(event):
        raise IdempotencyConflict(event.key)
    return True


def apply(facts: OrderFacts, event: Event, records: Sequence[Record], settings: Settings, now: datetime) -> Outcome:
    """Apply one event to an order; ``records`` are the order's posted records, current status."""
    if event.order_id != facts.order_id:
        raise ValueError(f"event for order {event.order_id} applied to order {facts.order_id}")
    if _check_key(facts, event):
        return Outcome(facts, (), Effect.DUPLICATE)
    if isinstance(event, OrderPaid):
        return _apply_sale(facts, event, records, settings, now)
    if facts.sale is None:
        return Outcome(replace(facts, parked=facts.parked + (event,)), (), Effect.PARKED)
    grown, effect, review = _record(facts, event, settings)
    grown = grown.saw(event.key, fingerprint(event))
    if effect is not Effect.APPLIED:
        return Outcome(grown, (), effect, review=review)
    drafts = _adjustments(grown, event, _lines(grown, records), now)
    return Outcome(grown, tuple(drafts), Effect.APPLIED, review=review)


def _apply_sale(facts: OrderFacts, event: OrderPaid, records: Sequence[Record], settings: Settings, now: datetime) -> Outcome:
    """Record the sale once, then replay what was parked for it, in received order."""
    if facts.sale is not None:
        return Outcome(facts.saw(event.key, fingerprint(event)), (), Effect.IGNORED)
    sale = record_sale(event, settings)
    grown = replace(facts, sale=sale, parked=()).saw(event.key, fingerprint(event))
    drafts = _commission_drafts(sale, grown, now)
    lines = _lines(grown, records)
    for draft in drafts:
        lines[draft.line_item_id] = _Line(draft.amount.minor, draft.base.minor, draft.status, draft.approves_at)
    notes: list[str] = []
    review: list[str] = []
    for parked in facts.parked:
        try:
            grown, effect, parked_review = _record(grown, parked, settings)
        except IdempotencyConflict as conflict:
            notes.append(f"parked {parked.key} not applied: {conflict}")
            continue
        grown = grown.saw(parked.key, fingerprint(parked))
        review.extend(parked_review)
        if effect is Effect.APPLIED:
            drafts.extend(_adjustments(grown, parked, lines, now))
    return Outcome(grown, tuple(drafts), Effect.APPLIED, tuple(notes), tuple(review))
