"""GraphQL Admin API objects -> snapshots. The proof that matters: an order (and a return)
read from the API is the same snapshot the webhook path makes of the equivalent REST body,
so both feed ``services`` identically. Then the rules of each field: shop money only, one
currency, exact bounded amounts, enums read like the webhook's strings."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from policy.events import RefundCreated, RefundLine
from shopify_app.shopify.errors import PayloadError
from shopify_app.shopify.graphql_snapshots import order_snapshot, return_snapshot
from shopify_app.shopify.snapshots import ReturnSnapshot
from tests.support.bodies import line_item, money_set, order_body, parsed

D = Decimal


def money(amount: str, currency: str = "EUR") -> dict[str, Any]:
    return {"shopMoney": {"amount": amount, "currencyCode": currency},
            "presentmentMoney": {"amount": "999.99", "currencyCode": "JPY"}}  # never read


def connection(nodes: list[Any]) -> dict[str, Any]:
    return {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": nodes}


def gql_line(line_id: int, price: str, quantity: int = 1, discounts: tuple[str, ...] = (), taxes: tuple[str, ...] = (),
             gift_card: bool = False, currency: str = "EUR") -> dict[str, Any]:
    return {
        "id": f"gid://shopify/LineItem/{line_id}", "title": f"Item {line_id}", "name": f"Item {line_id} - M",
        "quantity": quantity, "isGiftCard": gift_card, "product": {"id": "gid://shopify/Product/555"},
        "originalUnitPriceSet": money(price, currency),
        "discountAllocations": [{"allocatedAmountSet": money(d, currency)} for d in discounts],
        "taxLines": [{"priceSet": money(t, currency)} for t in taxes],
    }


def gql_refund(refund_id: int = 7, order_id: int = 1001, **extra: Any) -> dict[str, Any]:
    refund = {
        "id": f"gid://shopify/Refund/{refund_id}", "createdAt": "2026-11-04T10:00:00Z", "updatedAt": "2026-11-04T10:05:00Z",
        "order": {"id": f"gid://shopify/Order/{order_id}"},
        "refundLineItems": connection([{"lineItem": {"id": "gid://shopify/LineItem/1"}, "quantity": 1,
                                        "subtotalSet": money("40.00"), "totalTaxSet": money("6.39")}]),
        "orderAdjustments": connection([{"amountSet": money("-2.50")}]),
        "refundShippingLines": connection([{"subtotalAmountSet": money("4.95")}]),
    }
    refund.update(extra)
    return refund


def gql_order(**extra: Any) -> dict[str, Any]:
    """A taxes-included EUR order: a discounted line, a gift card, cancelled, fulfilled, one refund."""
    order = {
        "id": "gid://shopify/Order/1001", "name": "#1001", "currencyCode": "EUR", "taxesIncluded": True,
        "displayFinancialStatus": "PARTIALLY_REFUNDED", "discountCodes": ["ANNA10", "ANNA10"],
        "customAttributes": [{"key": " Ref ", "value": "anna"}, {"key": "gift", "value": "yes"}],
        "customerJourneySummary": {"firstVisit": {"landingPage": "https://shop.example/?ref=first"},
                                   "lastVisit": {"landingPage": "https://shop.example/?ref=anna"}},
        "email": "buyer@example.com", "customer": {"defaultEmailAddress": {"emailAddress": "buyer@example.org"}},
        "processedAt": "2026-11-02T10:00:00+01:00", "createdAt": "2026-11-02T08:00:00Z",
        "cancelledAt": "2026-11-06T10:00:00Z", "updatedAt": "2026-11-06T10:00:00Z",
        "fulfillments": [{"status": "CANCELLED", "createdAt": "2026-11-02T12:00:00Z"},
                         {"status": "SUCCESS", "createdAt": "2026-11-03T12:00:00Z"},
                         {"status": "SUCCESS", "createdAt": "2026-11-05T12:00:00Z"}],
        "lineItems": connection([gql_line(1, "59.90", 2, discounts=("10.00",), taxes=("15.94",)),
                                 gql_line(2, "25.00", gift_card=True)]),
        "refunds": [gql_refund()],
    }
    order.update(extra)
    return order


def rest_order() -> dict[str, Any]:
    """The same order as the orders/updated webhook would send it."""
    eur = {"currency": "EUR"}
    return order_body(
        line_item(1, "59.90", 2, discounts=("10.00",), taxes=("15.94",), **eur),
        line_item(2, "25.00", gift_card=True, **eur),
        currency="EUR", taxes_included=True, financial_status="partially_refunded",
        processed_at="2026-11-02T10:00:00+01:00", updated_at="2026-11-06T10:00:00Z", cancelled_at="2026-11-06T10:00:00Z",
        discount_codes=[{"code": "ANNA10"}], note_attributes=[{"name": " Ref ", "value": "anna"}, {"name": "gift", "value": "yes"}],
        landing_site="https://shop.example/?ref=anna", email="buyer@example.com",
        customer={"id": 9, "email": "buyer@example.org"},
        fulfillments=[{"status": "cancelled", "created_at": "2026-11-02T12:00:00Z"},
                      {"status": "success", "created_at": "2026-11-03T12:00:00Z"},
                      {"status": "success", "created_at": "2026-11-05T12:00:00Z"}],
        refunds=[{
            "id": 7, "created_at": "2026-11-04T10:00:00Z",
            "refund_line_items": [{"line_item_id": 1, "quantity": 1, "subtotal_set": money_set("40.00", code="EUR"),
                                   "total_tax_set": money_set("6.39", code="EUR")}],
            "order_adjustments": [{"kind": "refund_discrepancy", "amount_set": money_set("-2.50", code="EUR")}],
            "refund_shipping_lines": [{"subtotal_amount_set": money_set("4.95", code="EUR")}],
        }],
    )


def refused(data: dict[str, Any], read: Any = order_snapshot) -> str:
    with pytest.raises(PayloadError) as caught:
        read(data)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message
    return message


# -- orders ----------------------------------------------------------------------------------


def test_an_order_read_from_the_api_is_the_webhook_paths_snapshot() -> None:
    fetched = order_snapshot(gql_order())
    delivered = parsed("orders/updated", rest_order())
    assert fetched == delivered


def test_what_the_order_snapshot_says() -> None:
    snapshot = order_snapshot(gql_order())
    assert (snapshot.order_id, snapshot.name, snapshot.currency, snapshot.taxes_included, snapshot.paid) == (
        "1001", "#1001", "EUR", True, True)
    first, gift = snapshot.lines
    assert (first.line_item_id, first.quantity, first.unit_price, first.discount, first.tax, first.title, first.product_id) == (
        "1", 2, D("59.90"), D("10.00"), D("15.94"), "Item 1", "555")
    assert gift.gift_card is True and first.gift_card is False
    assert snapshot.processed_at == datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    assert snapshot.cancelled_at == datetime(2026, 11, 6, 10, 0, tzinfo=timezone.utc)
    assert snapshot.fulfilled_at == datetime(2026, 11, 3, 12, 0, tzinfo=timezone.utc)  # earliest successful
    assert snapshot.clues.discount_codes == ("ANNA10",)
    assert snapshot.clues.ref_attribute == "anna"
    assert snapshot.clues.landing_site == "https://shop.example/?ref=anna"  # the visit that bought
    assert snapshot.clues.buyer_emails == ("buyer@example.com", "buyer@example.org")
    assert snapshot.refunds == (RefundCreated(
        refund_id="7", order_id="1001", lines=(RefundLine("1", 1, D("40.00"), D("6.39")),),
        created_at=datetime(2026, 11, 4, 10, 0, tzinfo=timezone.utc), discrepancy=D("-2.50"), shipping=D("4.95"),
        currency="EUR"),)


@pytest.mark.parametrize("status, paid", [
    ("PAID", True), ("PARTIALLY_REFUNDED", True), ("REFUNDED", True),
    ("PENDING", False), ("AUTHORIZED", False), ("PARTIALLY_PAID", False), ("VOIDED", False), (None, False),
])
def test_paid_is_read_from_the_display_financial_status(status: str | None, paid: bool) -> None:
    assert order_snapshot(gql_order(displayFinancialStatus=status)).paid is paid


def test_clues_fall_back_and_stay_empty_when_the_order_has_none() -> None:
    journey = {"firstVisit": {"landingPage": "https://shop.example/?ref=first"}, "lastVisit": None}
    clues = order_snapshot(gql_order(customerJourneySummary=journey, customer=None, email=None,
                                     customAttributes=[], discountCodes=[])).clues
    assert clues.landing_site == "https://shop.example/?ref=first"
    assert (clues.discount_codes, clues.ref_attribute, clues.buyer_emails) == ((), None, ())
    assert order_snapshot(gql_order(customerJourneySummary=None)).clues.landing_site is None


def test_an_uncancelled_unfulfilled_order_without_refunds() -> None:
    snapshot = order_snapshot(gql_order(cancelledAt=None, fulfillments=[], refunds=[], processedAt=None))
    assert snapshot.cancelled_at is None and snapshot.fulfilled_at is None and snapshot.refunds == ()
    assert snapshot.processed_at == datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)  # createdAt stands in


def test_shop_money_is_read_never_presentment() -> None:
    line = order_snapshot(gql_order()).lines[0]
    assert line.unit_price == D("59.90")  # presentmentMoney says 999.99 JPY


def test_amounts_are_exact_decimals_from_strings_or_json_numbers() -> None:
    order = gql_order()
    order["lineItems"]["nodes"][0]["originalUnitPriceSet"]["shopMoney"]["amount"] = D("59.905")  # a JSON number, read exactly
    assert order_snapshot(order).lines[0].unit_price == D("59.905")


@pytest.mark.parametrize("path, value, expected", [
    (("lineItems", "nodes", 0, "originalUnitPriceSet", "shopMoney", "amount"), "12345678901234567890.12",
     "order 1001: lineItems.nodes[0].originalUnitPriceSet.shopMoney.amount: amount out of range"),
    (("lineItems", "nodes", 0, "originalUnitPriceSet", "shopMoney", "amount"), 59.9,
     "order 1001: lineItems.nodes[0].originalUnitPriceSet.shopMoney.amount: refusing float 59.9 as money"),
    (("lineItems", "nodes", 0, "discountAllocations", 0, "allocatedAmountSet", "shopMoney", "currencyCode"), "USD",
     "order 1001: lineItems.nodes[0].discountAllocations[0].allocatedAmountSet.shopMoney.currencyCode: 'USD' is not 'EUR', the order currency"),
    (("lineItems", "nodes", 0, "quantity"), 10**7, "order 1001: lineItems.nodes[0].quantity: more than 1000000"),
    (("lineItems", "nodes", 0, "isGiftCard"), "false", "order 1001: lineItems.nodes[0].isGiftCard: expected true or false"),
    (("taxesIncluded",), None, "order 1001: taxesIncluded: expected true or false"),
    (("refunds", 0, "order", "id"), "gid://shopify/Order/2", "order 1001: refunds[0].order.id: 2 is not the expected order 1001"),
    (("refunds", 0, "refundShippingLines", "nodes", 0, "subtotalAmountSet", "shopMoney", "currencyCode"), "USD",
     "order 1001: refunds[0].refundShippingLines.nodes[0].subtotalAmountSet.shopMoney.currencyCode: 'USD' is not 'EUR', the currency of refundLineItems.nodes[0].subtotalSet.shopMoney.currencyCode"),
    (("currencyCode",), "ZZZ", "order 1001: currencyCode: not an ISO 4217 currency the ledger knows: 'ZZZ'"),
    (("processedAt",), "2026-11-02T10:00:00", "order 1001: processedAt: timestamp has no UTC offset"),
])
def test_bad_fields_are_refused_naming_their_path(path: tuple[Any, ...], value: Any, expected: str) -> None:
    order = gql_order()
    target: Any = order
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert refused(order).startswith(expected)


def test_a_line_worth_more_than_any_real_order_is_refused() -> None:
    order = gql_order(lineItems=connection([gql_line(1, "999999999999.00", 2)]))
    assert "beyond any real order" in refused(order)


@pytest.mark.parametrize("field, path", [("discounts", "discountAllocations"), ("taxes", "taxLines")])
def test_a_line_s_discounts_and_taxes_have_a_limit(field: str, path: str) -> None:
    at_limit = order_snapshot(gql_order(lineItems=connection([gql_line(1, "10.00", **{field: ("999999999999.99",)})])))
    assert (at_limit.lines[0].discount, at_limit.lines[0].tax) == (
        (D("999999999999.99"), D(0)) if field == "discounts" else (D(0), D("999999999999.99")))
    order = gql_order(lineItems=connection([gql_line(1, "10.00", **{field: ("9999999999999999.99",) * 10_000})]))
    assert refused(order) == (
        f"order 1001: lineItems.nodes[0].{path}: total 99999999999999999900.00 is beyond any real order (limit 1000000000000)")


@pytest.mark.parametrize("extra, expected", [
    ({"orderAdjustments": connection([{"amountSet": money("-9999999999999999.99")}] * 10_000)},
     "orderAdjustments.nodes: total -99999999999999999900.00"),
    ({"orderAdjustments": connection([{"amountSet": money("-600000000000.00")}] * 2)},
     "orderAdjustments.nodes: total -1200000000000.00"),
    ({"refundShippingLines": connection([{"subtotalAmountSet": money("9999999999999999.99")}] * 10_000)},
     "refundShippingLines.nodes: total 99999999999999999900.00"),
])
def test_refund_totals_have_a_limit(extra: dict[str, Any], expected: str) -> None:
    """A discrepancy or shipping summed past any real order is refused when read, not when
    the policy rounds it (a failure on every retry)."""
    assert refused(gql_order(refunds=[gql_refund(**extra)])) == (
        f"order 1001: refunds[0].{expected} is beyond any real order (limit 1000000000000)")


def test_an_order_with_neither_time_is_refused() -> None:
    assert refused(gql_order(processedAt=None, createdAt=None)) == "order 1001: processed_at and created_at both missing"


def test_a_refund_without_created_at_takes_its_updated_at() -> None:
    refund = gql_refund(createdAt=None)
    assert order_snapshot(gql_order(refunds=[refund])).refunds[0].created_at == datetime(2026, 11, 4, 10, 5, tzinfo=timezone.utc)


def test_a_shipping_only_refund() -> None:
    refund = gql_refund(refundLineItems=connection([]), orderAdjustments=connection([]))
    [event] = order_snapshot(gql_order(refunds=[refund])).refunds
    assert (event.lines, event.discrepancy, event.shipping, event.currency) == ((), D(0), D("4.95"), "EUR")


# -- returns ---------------------------------------------------------------------------------


def gql_return(**extra: Any) -> dict[str, Any]:
    ret = {
        "id": "gid://shopify/Return/900", "status": "CLOSED", "closedAt": "2026-11-09T00:00:00Z",
        "order": {"id": "gid://shopify/Order/1001"},
        "returnLineItems": connection([
            {"quantity": 1, "fulfillmentLineItem": {"lineItem": {"id": "gid://shopify/LineItem/1"}}},
            {"quantity": 2, "fulfillmentLineItem": {"lineItem": {"id": "gid://shopify/LineItem/4"}}},
        ]),
        "exchangeLineItems": connection([
            {"quantity": 1, "unprocessedQuantity": 0, "lineItems": [{"id": "gid://shopify/LineItem/3", "quantity": 1}]},
        ]),
    }
    ret.update(extra)
    return ret


def test_a_return_with_an_exchange_is_the_webhook_paths_snapshot() -> None:
    fetched = return_snapshot(gql_return())
    delivered = parsed("returns/close", {
        "id": 900, "status": "closed", "order": {"id": 1001}, "closed_at": "2026-11-09T00:00:00Z",
        "return_line_items": [{"quantity": 1, "fulfillment_line_item": {"line_item": {"id": 1}}},
                              {"quantity": 2, "fulfillment_line_item": {"line_item": {"id": 4}}}],
        "exchange_line_items": [{"line_item": {"id": 3, "quantity": 1}}],
    })
    assert fetched == delivered == ReturnSnapshot(
        return_id="900", order_id="1001", status="closed", returned=(("1", 1), ("4", 2)), exchanged=(("3", 1),),
        complete=True, occurred_at=datetime(2026, 11, 9, tzinfo=timezone.utc))


def test_an_exchange_not_processed_yet_is_incomplete() -> None:
    pending = {"quantity": 1, "unprocessedQuantity": 1, "lineItems": None}
    ret = return_snapshot(gql_return(status="OPEN", closedAt=None, exchangeLineItems=connection([pending])))
    assert (ret.status, ret.exchanged, ret.complete, ret.occurred_at) == ("open", (), False, None)


def test_an_exchange_processed_in_two_order_lines_lists_both() -> None:
    split = {"quantity": 3, "unprocessedQuantity": 0, "lineItems": [
        {"id": "gid://shopify/LineItem/3", "quantity": 1}, {"id": "gid://shopify/LineItem/5", "quantity": 2}]}
    ret = return_snapshot(gql_return(exchangeLineItems=connection([split])))
    assert ret.exchanged == (("3", 1), ("5", 2)) and ret.complete is True


def test_an_unverified_return_line_leaves_the_return_incomplete() -> None:
    ret = gql_return()
    ret["returnLineItems"]["nodes"].append({"quantity": 1})  # an UnverifiedReturnLineItem: no order line
    snapshot = return_snapshot(ret)
    assert snapshot.returned == (("1", 1), ("4", 2)) and snapshot.complete is False


def test_a_return_without_an_exchange() -> None:
    ret = return_snapshot(gql_return(exchangeLineItems=connection([])))
    assert ret.exchanged == () and ret.complete is True


def test_bad_return_fields_are_refused() -> None:
    bad = copy.deepcopy(gql_return())
    bad["returnLineItems"]["nodes"][0]["quantity"] = 0
    assert refused(bad, return_snapshot) == "return 900: returnLineItems.nodes[0].quantity: must be at least 1, got 0"
    assert refused(gql_return(order=None), return_snapshot) == "return 900: order: expected an object, got null"
