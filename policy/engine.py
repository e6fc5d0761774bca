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
from policy.errors import EventRefused
from policy.facts import OrderFacts
from policy.events import (
    FINAL_DISPUTE_STATUSES,
    DisputeChanged,
    ExchangeProcessed,
    Event,
    OrderCancelled,
    OrderEdited,
    OrderFulfilled,
    OrderPaid,
    RefundCreated,
    ReviewDecided,
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
    CONFLICT = "conflict"  # a parked event whose key was meanwhile applied with other content
    REFUSED = "refused"  # a parked event that contradicts the sale (EventRefused)


@dataclass(frozen=True)
class Replayed:
    """What became of one parked event when its order's sale arrived."""

    key: str
    effect: Effect
    problem: str | None = None  # why, for CONFLICT and REFUSED
    final: bool = True  # False: refused for now (EventRefused.final); deliver it again later
    review: tuple[str, ...] = ()  # money of this event held for a merchant's decision


@dataclass(frozen=True)
class Outcome:
    facts: OrderFacts
    drafts: tuple[Draft, ...]
    effect: Effect
    notes: tuple[str, ...] = ()  # for the history: why something was not applied
    review: tuple[str, ...] = ()  # money held for a merchant's decision (amount_only_refunds=review)
    replayed: tuple[Replayed, ...] = ()  # the parked events a sale replayed, in received order


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


_KINDS: dict[type, Kind] = {
    RefundCreated: Kind.REFUND,
    ReviewDecided: Kind.REFUND,
    ExchangeProcessed: Kind.EXCHANGE,
    OrderEdited: Kind.EXCHANGE,
    OrderCancelled: Kind.CANCELLATION,
}


def _kind(event: Event, diff: int) -> Kind:
    """The kind of an adjustment ``event`` causes. Every event that can move money is named
    here; any other is a programming error, never a silent ``manual`` record (a manual record
    switches off its line's rate check)."""
    if isinstance(event, DisputeChanged):
        return Kind.CHARGEBACK if diff < 0 else Kind.REINSTATEMENT
    try:
        return _KINDS[type(event)]
    except KeyError:
        raise TypeError(f"{type(event).__name__} cannot adjust a commission") from None


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
    elif isinstance(event, OrderCancelled):
        text = f"Order {sale.order_name} cancelled: remaining commission reversed"
    elif isinstance(event, ReviewDecided):
        text = (f"Refund {event.refund_id} on order {sale.order_name}: amount refunded beyond its items accepted by the merchant "
                f"(user {event.decided_by}); commission recalculated on {value} kept")
    else:
        raise TypeError(f"{type(event).__name__} cannot adjust a commission")
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
            occurred_at=sale.processed_at,
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
                occurred_at=event.occurred_at,
                created_at=now,
                approves_at=before.approves_at if status is Status.PENDING else None,
            )
        )
        before.net, before.value = after.target.minor, after.value
    return drafts


def _known_lines(facts: OrderFacts, sale: Sale) -> set[str]:
    """Every line id the order has: sold (commissioned or not) or added by an exchange or edit."""
    known = {line.line_item_id for line in sale.lines} | set(sale.other_lines)
    for change, _ in (*facts.exchanges, *facts.edits):
        known.update(added.line_item_id for added in change.added)
    return known


def _refuse_contradictions(facts: OrderFacts, event: Event, coming: frozenset[str] = frozenset()) -> None:
    """Refuse a refund in another currency than the sale (final), or a refund or exchange of
    a line the order does not have (not final: the exchange or edit adding it may be late).
    Applied, either would move money nobody can explain: a foreign amount read as the shop's,
    a refund that silently moves nothing. ``coming``: lines that events replayed in the same
    pass add, so a parked refund of an exchanged item is judged after its exchange."""
    sale = facts.sale
    if sale is None or sale.affiliate is None:
        return  # an order that earns nothing has nothing to protect
    if isinstance(event, RefundCreated):
        if event.currency is not None and event.currency != sale.currency:
            raise EventRefused(event.key, f"its amounts are in {event.currency} but order {sale.order_name} was sold in {sale.currency}")
        lines = [item.line_item_id for item in event.lines]
    elif isinstance(event, ExchangeProcessed):
        lines = [item.line_item_id for item in event.returned]
    else:
        return
    unknown = sorted(set(lines) - _known_lines(facts, sale) - coming)
    if unknown:
        raise EventRefused(event.key, f"line {', '.join(unknown)} is not on order {sale.order_name}", final=False)


def _record(
    facts: OrderFacts, event: Event, settings: Settings, coming: frozenset[str] = frozenset()
) -> tuple[OrderFacts, Effect, tuple[str, ...]]:
    """Add a (non-sale) event to the facts; settings that decide how it counts are frozen in.
    Returns the grown facts, the effect, and what is held for review. Raises
    ``EventRefused`` for an event that contradicts the sale."""
    _refuse_contradictions(facts, event, coming)
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
    if isinstance(event, ReviewDecided):
        return _decide(facts, event), Effect.APPLIED, ()
    if isinstance(event, DisputeChanged):
        known = facts.dispute(event.dispute_id)
        final = FINAL_DISPUTE_STATUSES
        if known is not None and known.status in final and event.status in final and known.status != event.status:
            raise IdempotencyConflict(f"dispute:{event.dispute_id}", f"already {known.status}, now {event.status}")
        if known is not None and known.rank >= event.rank:
            return facts, Effect.IGNORED, ()  # older news, or the same stage again
        return facts.with_dispute(event), Effect.APPLIED, ()
    raise TypeError(f"not an event: {event!r}")


def _decide(facts: OrderFacts, event: ReviewDecided) -> OrderFacts:
    """Re-decide how a held refund's amount-only part counts: the one way a fact's frozen
    setting changes, by an explicit merchant action (the decision is itself a fact, keyed)."""
    mode = AmountOnlyRefunds.PRORATE if event.accepted else AmountOnlyRefunds.IGNORE
    for index, (refund, held) in enumerate(facts.refunds):
        if refund.refund_id == event.refund_id and held is AmountOnlyRefunds.REVIEW:
            return replace(facts, refunds=facts.refunds[:index] + ((refund, mode),) + facts.refunds[index + 1:])
    raise EventRefused(event.key, f"refund {event.refund_id} of order {facts.order_id} is not held for review")


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
    if effect is not Effect.APPLIED or isinstance(event, OrderFulfilled):
        return Outcome(grown, (), effect, review=review)  # a fulfilment only starts the clock
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
    replayed: list[Replayed] = []
    coming = frozenset(a.line_item_id for p in facts.parked if isinstance(p, (ExchangeProcessed, OrderEdited)) for a in p.added)
    for parked in facts.parked:
        try:
            grown, effect, parked_review = _record(grown, parked, settings, coming)
        except (IdempotencyConflict, EventRefused) as problem:
            notes.append(f"parked {parked.key} not applied: {problem}")
            refused = isinstance(problem, EventRefused)
            replayed.append(Replayed(parked.key, Effect.REFUSED if refused else Effect.CONFLICT, str(problem), not refused or problem.final))
            continue
        grown = grown.saw(parked.key, fingerprint(parked))
        replayed.append(Replayed(parked.key, effect, review=parked_review))
        if effect is Effect.APPLIED and not isinstance(parked, OrderFulfilled):
            drafts.extend(_adjustments(grown, parked, lines, now))
    return Outcome(grown, tuple(drafts), Effect.APPLIED, tuple(notes), replayed=tuple(replayed))
