"""What a snapshot means for the ledger: the policy events it stands for, given what is
known about its order (its facts and its latest priced lines) and who referred it.

Pure: no database, no clock. ``services.orders`` hands in what it read under the order's
lock, and applies what comes out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from policy.events import AddedLine, Event, ExchangeProcessed, OrderCancelled, OrderEdited, OrderFulfilled, OrderPaid, Referral, ReturnedLine, SaleLine
from policy.facts import OrderFacts
from policy.sale import part_value
from shopify_app.shopify.errors import NeedsFetch
from shopify_app.shopify.snapshots import EditSnapshot, OrderSnapshot, ReturnSnapshot

EXCHANGING_RETURN_TOPICS = frozenset({"returns/approve", "returns/process"})
"""Return topics whose body can carry a priced exchange; the others are history only."""

Attribution = Callable[[OrderSnapshot], tuple[Referral | None, str]]
"""Who referred an order (and why, in words); called only when a sale is being recorded."""


def order_events(snapshot: OrderSnapshot, facts: OrderFacts, attribute: Attribution) -> tuple[list[Event], str | None]:
    """The events of a full order payload, and a note for the history.

    The first payload showing the order paid records the sale; later ones never do. A
    fulfilment and a cancellation are facts of their own. A refund embedded in the order
    is applied only when its own ``refunds/create`` delivery (the authoritative body) has
    not been seen or parked.
    """
    events: list[Event] = []
    note = None
    if snapshot.paid and facts.sale is None:
        referral, note = attribute(snapshot)
        events.append(OrderPaid(
            order_id=snapshot.order_id, order_name=snapshot.name, currency=snapshot.currency,
            taxes_included=snapshot.taxes_included, lines=snapshot.lines, referral=referral,
            processed_at=snapshot.processed_at,
        ))
    if snapshot.fulfilled_at is not None:
        events.append(OrderFulfilled(snapshot.order_id, snapshot.fulfilled_at))
    if snapshot.cancelled_at is not None:
        events.append(OrderCancelled(snapshot.order_id, snapshot.cancelled_at))
    known = {key for key, _ in facts.seen} | {event.key for event in facts.parked}
    events.extend(refund for refund in snapshot.refunds if refund.key not in known)
    return events, note


def _priced(facts: OrderFacts, lines: tuple[SaleLine, ...] | None, line_item_id: str, quantity: int, why: str) -> AddedLine:
    """A line added by an exchange or edit, priced like a sale from the order's latest lines."""
    sale = facts.sale
    if sale is None or lines is None:
        raise NeedsFetch(f"{why}: order {facts.order_id} has no priced lines yet; waiting for an order payload")
    line = next((line for line in lines if line.line_item_id == line_item_id), None)
    if line is None:
        raise NeedsFetch(f"{why}: line {line_item_id} is not on order {facts.order_id} yet")
    if quantity > line.quantity:
        raise NeedsFetch(f"{why}: {quantity} of line {line_item_id} but the order shows {line.quantity}")
    value = part_value(line, quantity, sale.currency, sale.taxes_included)
    return AddedLine(line_item_id, quantity, value.amount, line.title)


def edit_event(edit: EditSnapshot, facts: OrderFacts, lines: tuple[SaleLine, ...] | None) -> OrderEdited:
    """An order edit, its added lines priced from the order's latest lines (the webhook has no prices)."""
    why = f"edit {edit.edit_id}"
    return OrderEdited(
        edit_id=edit.edit_id,
        order_id=edit.order_id,
        added=tuple(_priced(facts, lines, line_id, quantity, why) for line_id, quantity in edit.added),
        occurred_at=edit.occurred_at,
        removed=edit.removed,
    )


def return_events(
    topic: str | None, ret: ReturnSnapshot, facts: OrderFacts, lines: tuple[SaleLine, ...] | None, triggered_at: datetime
) -> tuple[list[Event], str | None]:
    """The exchange a return made, if any, and a note for the history.

    Only an approved or processed return can carry an exchange; a thin body (lines left out)
    must be fetched first. Returned lines carry no value (the policy prorates the frozen sale
    base); added lines are priced like a sale. Returns carry no timestamp of their own in
    Shopify's samples, so the delivery's trigger time stands in.
    """
    why = f"return {ret.return_id}"
    if topic is not None and topic not in EXCHANGING_RETURN_TOPICS:
        return [], f"{why} {ret.status or topic.split('/')[-1]}: nothing exchanged"
    if not ret.complete or ret.order_id is None:
        raise NeedsFetch(f"{why}: the webhook body leaves lines out; fetch the return")
    if not ret.exchanged:
        return [], f"{why} {ret.status or ''}: no exchange".replace("  ", " ")
    if not ret.returned:
        raise NeedsFetch(f"{why}: exchanges lines but lists no returned line; fetch the return")
    exchange = ExchangeProcessed(
        return_id=ret.return_id,
        order_id=ret.order_id,
        returned=tuple(ReturnedLine(line_id, quantity) for line_id, quantity in ret.returned),
        added=tuple(_priced(facts, lines, line_id, quantity, why) for line_id, quantity in ret.exchanged),
        occurred_at=ret.occurred_at or triggered_at,
    )
    return [exchange], None
