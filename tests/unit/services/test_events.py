"""What a snapshot means for the ledger (``services.events``): sales recorded once, embedded
refunds deferring to their own delivery, edits and exchanges priced like a sale from the
order's latest lines, and thin bodies asking for a fetch. Pure: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from policy.events import AddedLine, OrderCancelled, OrderFulfilled, OrderPaid, Referral, ReturnedLine
from policy.facts import OrderFacts
from policy.sale import record_sale
from policy.settings import Settings
from shopify_app.services.events import edit_event, order_events, return_events
from shopify_app.shopify.errors import NeedsFetch
from shopify_app.shopify.snapshots import OrderSnapshot
from tests.support.bodies import line_item, load, order_body, parsed, refund_body

D = Decimal
ANNA = Referral("ANNA", rate_percent=D("10"))
TRIGGERED = datetime(2026, 11, 9, 12, 0, tzinfo=timezone.utc)


def snapshot(body: dict, topic: str = "orders/updated") -> OrderSnapshot:
    return parsed(topic, body)


def sold(order: OrderSnapshot) -> OrderFacts:
    """The order's facts once its sale is recorded (a sample's own status may be unpaid)."""
    events, _ = order_events(replace(order, paid=True), OrderFacts(order.order_id), lambda _: (ANNA, "attributed"))
    sale = next(e for e in events if isinstance(e, OrderPaid))
    return OrderFacts(order.order_id, sale=record_sale(sale, Settings()))


def edit_body(*additions: tuple[int, int], order_id: int = 1001) -> dict:
    return {"order_edit": {"id": 5, "order_id": order_id, "created_at": "2026-11-03T10:00:00Z",
                           "line_items": {"additions": [{"id": i, "delta": d} for i, d in additions], "removals": []}}}


# -- orders ----------------------------------------------------------------------------------


def test_the_first_paid_payload_records_the_sale_with_its_attribution() -> None:
    order = snapshot(load("rest-order-with-discounts.json")["order"], "orders/paid")
    events, note = order_events(order, OrderFacts(order.order_id), lambda s: (ANNA, f"attributed to ANNA ({s.name})"))
    sale, embedded = events
    assert embedded.key == "refund:509562969"  # the sample order carries a refund: it follows the sale
    assert sale == OrderPaid(order_id="450789469", order_name="#1001", currency="USD", taxes_included=False,
                             lines=order.lines, referral=ANNA, processed_at=order.processed_at)
    assert note == "attributed to ANNA (#1001)"


def test_a_later_paid_payload_is_no_second_sale_and_is_not_attributed_again() -> None:
    order = snapshot(order_body(line_item(1, "10.00")))
    calls = []
    events, note = order_events(order, sold(order), lambda s: calls.append(s) or (ANNA, "again"))
    assert events == [] and note is None and calls == []


def test_fulfilment_and_cancellation_are_events_of_their_own() -> None:
    body = order_body(line_item(1, "10.00"), cancelled_at="2026-11-05T10:00:00Z",
                      fulfillments=[{"status": "success", "created_at": "2026-11-04T10:00:00Z"}])
    events, _ = order_events(snapshot(body), sold(snapshot(body)), lambda _: (ANNA, ""))
    assert events == [OrderFulfilled("1001", datetime(2026, 11, 4, 10, tzinfo=timezone.utc)),
                      OrderCancelled("1001", datetime(2026, 11, 5, 10, tzinfo=timezone.utc))]


def test_an_embedded_refund_defers_to_its_own_delivery_seen_or_parked() -> None:
    embedded = [refund_body(id=7, refund_line_items=[]), refund_body(id=8, refund_line_items=[])]
    order = snapshot(order_body(line_item(1, "10.00"), refunds=embedded))
    facts = sold(order).saw("refund:7", "fingerprint")
    events, _ = order_events(order, facts, lambda _: (ANNA, ""))
    assert [e.key for e in events] == ["refund:8"]
    parked_first = OrderFacts("1001", parked=(parsed("refunds/create", refund_body(id=8)),))
    paid, _ = order_events(order, parked_first, lambda _: (ANNA, ""))
    assert [e.key for e in paid] == ["order:1001", "refund:7"]


# -- edits -------------------------------------------------------------------------------------


def test_an_edit_is_priced_from_the_order_lines_shown_after_it() -> None:
    """The sample edit adds line 78643924236718232: price it from an order that has it."""
    edit = parsed("orders/edited", load("orders-edited.json"))
    body = load("orders-create.json")
    body["line_items"].append(line_item(78643924236718232, "40.00", quantity=1, discounts=("4.00",)))
    later = snapshot(body)
    event = edit_event(edit, sold(later), later.lines)
    assert event.key == "edit:78912328793123782"
    assert event.added == (AddedLine("78643924236718232", 1, D("36.00"), "Item 78643924236718232"),)
    assert event.removed == (("487817672276298554", 1),)
    assert event.occurred_at == edit.occurred_at


def test_an_edit_value_is_prorated_by_quantity_and_rounded_half_up_once() -> None:
    order = snapshot(order_body(
        line_item(1, "50.00"),
        line_item(2, "10.00", quantity=3, discounts=("1.00",)),  # (30 - 1) / 3 = 9.666.. -> 9.67
        line_item(3, "12.10", quantity=2, taxes=("4.20",), discounts=("0.01",)),  # 24.20 - 0.01 - 4.20 (tax included)
        taxes_included=True,
    ))
    event = edit_event(parsed("orders/edited", edit_body((2, 1), (3, 2))), sold(order), order.lines)
    assert [(a.line_item_id, a.quantity, a.value) for a in event.added] == [("2", 1, D("9.67")), ("3", 2, D("19.99"))]
    assert all(type(a.value) is Decimal for a in event.added)


def test_an_edit_value_has_the_currency_minor_digits() -> None:
    order = snapshot(order_body(line_item(2, "1000", quantity=3, discounts=("1",), currency="JPY"), currency="JPY"))
    (added,) = edit_event(parsed("orders/edited", edit_body((2, 1))), sold(order), order.lines).added
    assert str(added.value) == "1000"  # 2999 / 3 = 999.67 -> 1000 yen, no decimals


def test_an_edit_adding_a_gift_card_adds_no_value() -> None:
    order = snapshot(order_body(line_item(1, "10.00"), line_item(2, "25.00", gift_card=True)))
    (added,) = edit_event(parsed("orders/edited", edit_body((2, 1))), sold(order), order.lines).added
    assert added.value == D("0.00")


def test_an_edit_waits_for_lines_that_show_it() -> None:
    edit = parsed("orders/edited", load("orders-edited.json"))
    order = snapshot(load("orders-create.json"))
    with pytest.raises(NeedsFetch, match="line 78643924236718232 is not on order 820982911946154508 yet"):
        edit_event(edit, sold(order), order.lines)
    with pytest.raises(NeedsFetch, match="has no priced lines yet"):
        edit_event(edit, OrderFacts(edit.order_id), order.lines)  # no sale yet
    with pytest.raises(NeedsFetch, match="has no priced lines yet"):
        edit_event(edit, sold(order), None)
    too_many = parsed("orders/edited", edit_body((1, 5)))
    small = snapshot(order_body(line_item(1, "10.00", quantity=2)))
    with pytest.raises(NeedsFetch, match="5 of line 1 but the order shows 2"):
        edit_event(too_many, sold(small), small.lines)


# -- returns and exchanges -----------------------------------------------------------------------


def full_return(**extra: Any) -> dict:
    body = {
        "id": 900, "status": "open", "order": {"id": 1001},
        "total_return_line_items": 2, "total_exchange_line_items": 1,
        "return_line_items": [
            {"id": 1, "quantity": 1, "fulfillment_line_item": {"id": 71, "line_item": {"id": 1}}},
            {"id": 2, "quantity": 1, "line_item": {"id": 2}},
        ],
        "exchange_line_items": [{"id": 3, "line_item": {"id": 3, "quantity": 1}}],
    }
    body.update(extra)
    return body


def exchange_order() -> OrderSnapshot:
    return snapshot(order_body(line_item(1, "80.00"), line_item(2, "40.00"), line_item(3, "60.00", discounts=("6.00",))))


def test_an_approved_return_with_an_exchange_is_priced_from_the_order_lines() -> None:
    order = exchange_order()
    ret = parsed("returns/approve", full_return())
    [event], note = return_events("returns/approve", ret, sold(order), order.lines, TRIGGERED)
    assert note is None
    assert event.key == "return:900" and event.order_id == "1001"
    assert event.returned == (ReturnedLine("1", 1), ReturnedLine("2", 1))
    assert event.added == (AddedLine("3", 1, D("54.00"), "Item 3"),)
    assert event.occurred_at == TRIGGERED  # the return body carries no time: the delivery's trigger time stands in


@pytest.mark.parametrize("topic", ["returns/request", "returns/close", "returns/cancel", "returns/decline", "returns/reopen"])
def test_other_return_topics_are_history_only(topic: str) -> None:
    order = exchange_order()
    events, note = return_events(topic, parsed(topic, full_return()), sold(order), order.lines, TRIGGERED)
    assert events == [] and note.startswith("return 900") and "nothing exchanged" in note


def test_a_return_without_exchange_lines_moves_nothing() -> None:
    order = exchange_order()
    ret = parsed("returns/approve", full_return(exchange_line_items=[], total_exchange_line_items=0))
    events, note = return_events("returns/approve", ret, sold(order), order.lines, TRIGGERED)
    assert events == [] and note == "return 900 open: no exchange"


def test_thin_returns_and_unpriced_exchange_lines_ask_for_a_fetch() -> None:
    order = exchange_order()
    with pytest.raises(NeedsFetch, match="fetch the return"):
        return_events("returns/approve", parsed("returns/approve", load("returns-approve.json")), sold(order), order.lines, TRIGGERED)
    fewer = snapshot(order_body(line_item(1, "80.00"), line_item(2, "40.00")))
    with pytest.raises(NeedsFetch, match="line 3 is not on order 1001 yet"):
        return_events("returns/approve", parsed("returns/approve", full_return()), sold(fewer), fewer.lines, TRIGGERED)
    no_returned = full_return(return_line_items=[], total_return_line_items=0)
    with pytest.raises(NeedsFetch, match="lists no returned line"):
        return_events("returns/process", parsed("returns/process", no_returned), sold(order), order.lines, TRIGGERED)
