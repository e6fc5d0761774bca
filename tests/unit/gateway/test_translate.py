"""Shopify payload -> policy inputs, proven on Shopify's own samples and on small payloads
built to hit one quirk each (shop vs presentment money, numbers vs strings, thin bodies).

The samples in tests/fixtures/shopify are byte copies of shared/shopify-samples (see its
SOURCES.md): Shopify-published, shape-only, not arithmetically consistent. So tests here
assert what was parsed, never that sample totals add up.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policy.attribution import Candidate, attribute
from policy.events import AddedLine, OrderPaid, Referral, ReturnedLine
from policy.sale import line_base
from shopify_app.webhooks.translate import (
    NeedsFetch,
    PayloadError,
    business_key,
    dispute_from_payload,
    edit_from_payload,
    edit_notice,
    exchange_notice,
    order_from_payload,
    order_id_of,
    parse_json,
    refund_from_payload,
    return_from_payload,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "shopify"
D = Decimal


def load(name: str) -> dict[str, Any]:
    return parse_json((FIXTURES / name).read_bytes())


def parse(text: str) -> dict[str, Any]:
    return parse_json(text.encode())


def money_set(shop: str, presentment: str | None = None, code: str = "USD", p_code: str = "USD") -> dict:
    return {"shop_money": {"amount": shop, "currency_code": code},
            "presentment_money": {"amount": presentment or shop, "currency_code": p_code}}


def order_body(*lines: dict, currency: str = "USD", taxes_included: bool = False, **extra: Any) -> dict:
    """A minimal Order body: only what the translator reads."""
    body = {
        "id": 1001, "name": "#1001", "currency": currency, "taxes_included": taxes_included,
        "financial_status": "paid", "processed_at": "2026-11-02T10:00:00+00:00",
        "updated_at": "2026-11-03T10:00:00+00:00", "line_items": list(lines),
    }
    body.update(extra)
    return parse(json.dumps(body))  # through parse_json, as a webhook would arrive


def line_item(line_id: int, price: str, quantity: int = 1, discounts: tuple[str, ...] = (), taxes: tuple[str, ...] = (),
              currency: str = "USD", **extra: Any) -> dict:
    item = {
        "id": line_id, "title": f"Item {line_id}", "quantity": quantity, "price": price,
        "price_set": money_set(price, code=currency, p_code=currency), "product_id": 555, "gift_card": False,
        "discount_allocations": [{"amount": d, "amount_set": money_set(d, code=currency, p_code=currency),
                                  "discount_application_index": 0} for d in discounts],
        "tax_lines": [{"price": t, "price_set": money_set(t, code=currency, p_code=currency)} for t in taxes],
    }
    item.update(extra)
    return item


def assert_no_float(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        assert not isinstance(item, float), item
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# -- parse_json ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_every_sample_parses_without_a_float(name: str) -> None:
    body = load(name)
    assert isinstance(body, dict) and body
    assert_no_float(body)


def test_json_numbers_become_decimal_or_int_never_float() -> None:
    body = parse('{"a": 89.99, "b": 0.0, "c": 3, "d": [1e3, -7.3], "e": 820982911946154508}')
    assert type(body["a"]) is Decimal and body["a"] == D("89.99")
    assert type(body["b"]) is Decimal and str(body["b"]) == "0.0"
    assert type(body["c"]) is int and body["c"] == 3
    assert [type(x) for x in body["d"]] == [Decimal, Decimal] and body["d"] == [D("1E+3"), D("-7.3")]
    assert body["e"] == 820982911946154508  # a 64-bit id stays exact


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"a": 1} trailing', "not valid JSON"),
        (b"\xff\xfe{}", "not valid UTF-8"),
        (b'{"note": "caf\xe9"}', "not valid UTF-8"),  # Latin-1 byte
        ('{"a": 1}'.encode("utf-16"), "not valid UTF-8"),  # json.loads(bytes) would accept it
        (b"[1, 2]", "JSON list, not an object"),
        (b'"text"', "JSON str, not an object"),
        (b"null", "JSON NoneType, not an object"),
        (b'{"note": "a\\u0000b"}', "NUL character"),
        (b'{"a\\u0000": 1}', "NUL character"),  # in a key too
        (b'{"deep": [[{"x": "\\u0000"}]]}', "NUL character"),
        (b'{"note": "a\x00b"}', "not valid JSON"),  # a raw control character is invalid JSON
        (b'{"note": "\\ud800"}', "unpaired surrogate"),
        (b'{"amount": NaN}', "NaN is not a number"),
        (b'{"amount": -Infinity}', "-Infinity is not a number"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # recursion, not a crash
        (b'{"id": ' + b"1" * 5000 + b"}", "not valid JSON"),  # beyond Python's int digit limit
    ],
)
def test_parse_json_refuses(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason) as caught:
        parse_json(raw)
    assert "\n" not in str(caught.value)  # one line


def test_parse_json_wants_bytes() -> None:
    with pytest.raises(TypeError):
        parse_json('{"a": 1}')  # type: ignore[arg-type]


def test_parse_json_keeps_non_ascii_text() -> None:
    assert parse_json('{"title": "Café ☕"}'.encode())["title"] == "Café ☕"


# -- orders ----------------------------------------------------------------------------------


def test_orders_create_sample() -> None:
    snap = order_from_payload(load("orders-create.json"), "orders/create")
    assert snap.order_id == "820982911946154508"
    assert snap.name == "#9999"
    assert snap.currency == "USD"
    assert snap.taxes_included is False
    assert snap.paid is False  # financial_status "voided"
    assert [(l.line_item_id, l.unit_price, l.quantity) for l in snap.lines] == [
        ("487817672276298554", D("89.99"), 1),
        ("789012345678901234", D("19.99"), 1),
        ("890123456789012345", D("24.99"), 1),
        ("976318377106520349", D("159.99"), 1),
        ("315789986012684393", D("119.99"), 1),
    ]
    first = snap.lines[0]
    assert type(first.unit_price) is Decimal
    assert (first.title, first.product_id, first.gift_card, first.discount, first.tax) == (
        "Aviator sunglasses", "788032119674292922", False, D(0), D(0))
    assert snap.lines[1].product_id is None
    assert snap.clues.discount_codes == ()
    assert snap.clues.ref_attribute is None
    assert snap.clues.landing_site is None
    assert snap.clues.buyer_emails == ("jon@example.com", "john@example.com")  # email == contact_email, + customer
    at = datetime(2021, 12, 31, 19, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert snap.processed_at == at and snap.processed_at.utcoffset() == timedelta(hours=-5)
    assert snap.cancelled_at == at
    assert snap.fulfilled_at is None
    assert snap.refunds == ()
    assert snap.order_cancelled() is not None and snap.order_cancelled().cancelled_at == at
    assert snap.order_fulfilled() is None


def test_orders_paid_topic_means_paid_whatever_the_status() -> None:
    assert order_from_payload(load("orders-paid.json"), "orders/paid").paid is True
    assert order_from_payload(load("orders-cancelled.json"), "orders/cancelled").paid is False


@pytest.mark.parametrize("status, paid", [("paid", True), ("partially_refunded", True), ("refunded", True),
                                          ("pending", False), ("authorized", False), ("voided", False), (None, False)])
def test_paid_from_financial_status(status: str | None, paid: bool) -> None:
    body = order_body(line_item(1, "10.00"), financial_status=status)
    assert order_from_payload(body, "orders/updated").paid is paid


def test_rest_order_with_discounts_allocations_and_base() -> None:
    snap = order_from_payload(load("rest-order-with-discounts.json")["order"], "orders/updated")
    assert [(l.line_item_id, l.unit_price, l.discount, l.tax) for l in snap.lines] == [
        ("466157049", D("199.00"), D("3.34"), D("3.98")),
        ("518995019", D("199.00"), D("3.33"), D("3.98")),
        ("703073504", D("199.00"), D("3.33"), D("3.98")),
    ]
    assert line_base(snap.lines[0], snap.currency, snap.taxes_included).amount == D("195.66")
    assert line_base(snap.lines[1], snap.currency, snap.taxes_included).amount == D("195.67")
    assert snap.paid is True  # partially_refunded
    assert snap.clues.discount_codes == ("TENOFF",)  # discount_codes and discount_applications, once
    assert snap.clues.landing_site == "http://www.example.com?source=abc"
    assert snap.clues.ref_attribute is None  # note attributes exist, none named ref
    assert snap.fulfilled_at is None  # its only fulfilment has status "failure"
    assert snap.cancelled_at is None
    (refund,) = snap.refunds
    assert refund.refund_id == "509562969" and refund.order_id == "450789469"
    assert [(l.line_item_id, l.subtotal, l.total_tax) for l in refund.lines] == [
        ("703073504", D("195.66"), D("3.98")), ("466157049", D("195.67"), D("3.98"))]


def test_order_paid_notice() -> None:
    snap = order_from_payload(load("rest-order-with-discounts.json")["order"])
    referral = Referral("TENOFF", rate_percent=D("15"))
    event = snap.order_paid(referral, product_rates=(("632910392", D("12.5")),))
    assert event == OrderPaid(
        order_id="450789469", order_name="#1001", currency="USD", taxes_included=False, lines=snap.lines,
        referral=referral, processed_at=datetime(2008, 1, 10, 11, 0, tzinfo=timezone(timedelta(hours=-5))),
        product_rates=(("632910392", D("12.5")),),
    )
    assert event.key == "order:450789469"
    assert snap.order_paid(None).referral is None


def test_presentment_money_is_never_used() -> None:
    """A CAD shop selling in USD: shop money differs from presentment money everywhere."""
    item = line_item(1, "10.00", quantity=2, discounts=("1.00",), taxes=("1.30",), currency="CAD")
    item["price_set"] = money_set("10.00", "7.30", "CAD", "USD")
    item["discount_allocations"][0]["amount_set"] = money_set("1.00", "0.73", "CAD", "USD")
    item["tax_lines"][0]["price_set"] = money_set("1.30", "0.95", "CAD", "USD")
    snap = order_from_payload(order_body(item, currency="CAD", presentment_currency="USD"))
    (line,) = snap.lines
    assert (line.unit_price, line.discount, line.tax) == (D("10.00"), D("1.00"), D("1.30"))
    assert snap.currency == "CAD"

    refund = refund_from_payload(parse(json.dumps({
        "id": 7, "order_id": 1001, "created_at": "2026-11-04T10:00:00Z",
        "refund_line_items": [{"line_item_id": 1, "quantity": 1, "subtotal": 7.3, "total_tax": 0.95,
                               "subtotal_set": money_set("10.00", "7.30", "CAD", "USD"),
                               "total_tax_set": money_set("1.30", "0.95", "CAD", "USD")}],
        "order_adjustments": [{"kind": "refund_discrepancy", "amount": "-7.30",
                               "amount_set": money_set("-10.00", "-7.30", "CAD", "USD")}],
    })))
    assert refund.lines[0].subtotal == D("10.00") and refund.lines[0].total_tax == D("1.30")
    assert refund.discrepancy == D("-10.00")


def test_shop_money_in_another_currency_than_the_order_is_refused() -> None:
    item = line_item(1, "10.00")
    item["price_set"] = money_set("10.00", code="EUR")
    with pytest.raises(PayloadError, match=r"line_items\[0\]\.price_set\.shop_money\.currency_code"):
        order_from_payload(order_body(item, currency="USD"))


def test_plain_fields_when_sets_are_absent() -> None:
    item = line_item(1, "19.99", quantity=3)
    del item["price_set"]
    item["discount_allocations"] = [{"amount": "2.00"}, {"amount": 0.5}]  # a string and a JSON number
    item["tax_lines"] = [{"price": "1.10"}]
    (line,) = order_from_payload(order_body(item)).lines
    assert (line.unit_price, line.discount, line.tax) == (D("19.99"), D("2.50"), D("1.10"))


def test_taxes_included() -> None:
    snap = order_from_payload(order_body(line_item(1, "121.00", taxes=("21.00",), currency="EUR"), currency="EUR",
                                         taxes_included=True))
    assert snap.taxes_included is True
    assert line_base(snap.lines[0], snap.currency, snap.taxes_included).amount == D("100.00")


def test_taxes_included_must_be_stated() -> None:
    body = order_body(line_item(1, "10.00"))
    del body["taxes_included"]
    with pytest.raises(PayloadError, match="taxes_included"):
        order_from_payload(body)


def test_gift_card_line_is_flagged() -> None:
    (line,) = order_from_payload(order_body(line_item(1, "50.00", gift_card=True, product_id=None))).lines
    assert line.gift_card is True and line.product_id is None


def test_note_attribute_ref_is_a_signal() -> None:
    body = order_body(line_item(1, "10.00"), note_attributes=[
        {"name": "gift wrap", "value": "yes"}, {"name": "ref", "value": "ANNA"}])
    clues = order_from_payload(body).clues
    assert clues.ref_attribute == "ANNA"
    anna = Candidate("anna", "anna@example.com")
    assert attribute(clues, [anna]) == (anna, "attributed to anna by ref attribute")


def test_landing_site_ref_is_a_signal() -> None:
    body = order_body(line_item(1, "10.00"), landing_site="/products/x?utm_source=ig&ref=Anna")
    clues = order_from_payload(body).clues
    assert clues.landing_site == "/products/x?utm_source=ig&ref=Anna"
    anna = Candidate("ANNA", "anna@example.com")
    assert attribute(clues, [anna]) == (anna, "attributed to ANNA by landing site ref")


def test_discount_code_from_applications_and_self_referral_by_customer_email() -> None:
    body = order_body(
        line_item(1, "10.00"),
        email="buyer@example.com", contact_email=None, customer={"id": 5, "email": "Anna@Example.com"},
        discount_applications=[{"type": "automatic", "title": "Summer"},
                               {"type": "discount_code", "code": "ANNA10"}],
    )
    clues = order_from_payload(body).clues
    assert clues.discount_codes == ("ANNA10",)
    assert clues.buyer_emails == ("buyer@example.com", "Anna@Example.com")
    candidate, why = attribute(clues, [Candidate("anna10", "anna@example.com")])
    assert candidate is None and "self-referral" in why


def test_fulfilled_at_is_the_earliest_successful_fulfilment() -> None:
    body = order_body(line_item(1, "10.00"), fulfillments=[
        {"id": 1, "status": "success", "created_at": "2026-11-06T10:00:00+00:00"},
        {"id": 2, "status": "cancelled", "created_at": "2026-11-03T10:00:00+00:00"},
        {"id": 3, "status": "success", "created_at": "2026-11-05T12:00:00+01:00"},
    ])
    snap = order_from_payload(body)
    assert snap.fulfilled_at == datetime(2026, 11, 5, 11, 0, tzinfo=timezone.utc)
    assert snap.order_fulfilled().fulfilled_at == snap.fulfilled_at


def test_embedded_refunds_in_orders_updated() -> None:
    body = load("orders-create.json")
    body["financial_status"] = "partially_refunded"
    body["cancelled_at"] = None
    body["refunds"] = [load("refunds-create.json"), load("rest-refund-shipping-adjustment.json")["refund"]]
    body["refunds"][1]["order_id"] = body["id"]
    snap = order_from_payload(body, "orders/updated")
    assert snap.paid is True and snap.cancelled_at is None and snap.order_cancelled() is None
    assert [r.refund_id for r in snap.refunds] == ["890088186047892319", "929361467"]
    assert all(r.order_id == "820982911946154508" for r in snap.refunds)
    assert len(snap.refunds[0].lines) == 5
    assert snap.refunds[1].lines == () and snap.refunds[1].shipping == D("5.00")


def test_embedded_refund_of_another_order_is_refused() -> None:
    body = load("orders-create.json")
    body["refunds"] = [load("rest-refund-shipping-adjustment.json")["refund"]]  # order 450789469
    with pytest.raises(PayloadError, match="not the expected order 820982911946154508"):
        order_from_payload(body)


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda b: b.pop("id"), "order.id: missing"),
        (lambda b: b.update(id=12.0), "order.id: not a Shopify id"),
        (lambda b: b.update(id=True), "order.id: not a Shopify id"),
        (lambda b: b.update(currency="ZZZ"), "currency"),
        (lambda b: b.pop("line_items"), "line_items missing"),
        (lambda b: b["line_items"][0].update(price_set=None, price="12,50"), r"line_items\[0\]\.price: not a decimal"),
        (lambda b: b["line_items"][0].update(price_set=None, price=None), r"line_items\[0\]: neither price_set"),
        (lambda b: b["line_items"][0]["price_set"]["shop_money"].update(amount="abc"),
         r"line_items\[0\]\.price_set\.shop_money\.amount: not a decimal"),
        (lambda b: b["line_items"][0]["price_set"].pop("shop_money"), r"price_set\.shop_money: expected an object"),
        (lambda b: b["line_items"][0].update(quantity=D("1.0")), r"line_items\[0\]\.quantity: expected an integer"),
        (lambda b: b["line_items"][0].update(quantity=True), r"line_items\[0\]\.quantity: expected an integer"),
        (lambda b: b["line_items"][0].update(quantity=-1), r"quantity: must be at least 0"),
        (lambda b: b["line_items"][0].update(price_set=None, price=D("1E+999999999")), "amount out of range"),
        (lambda b: b["line_items"][0].update(price_set=None, price=D("1E-999999999")), "amount out of range"),
        (lambda b: b["line_items"][0].update(price_set=None, price="1" * 5000), r"price: amount out of range: '1111"),
        (lambda b: b["line_items"][0].update(quantity=10**6 + 1), r"quantity: more than 1000000"),
        (lambda b: b["line_items"][0].update(price_set=None, price={"amount": "1"}), r"price: not a money value"),
        (lambda b: b.update(processed_at="2026-11-02T10:00:00"), "processed_at: timestamp has no UTC offset"),
        (lambda b: b.update(processed_at="yesterday"), "processed_at: not an ISO 8601 timestamp"),
        (lambda b: b.update(line_items={"0": {}}), "line_items: expected an array"),
    ],
)
def test_order_errors_name_the_field(change, field: str) -> None:
    body = order_body(line_item(1, "10.00"))
    change(body)
    with pytest.raises(PayloadError, match=field) as caught:
        order_from_payload(body)
    assert len(str(caught.value)) < 200  # bounded, whatever the payload holds


def test_a_float_handed_in_directly_is_refused() -> None:
    body = order_body(line_item(1, "10.00"))
    body["line_items"][0]["price_set"]["shop_money"]["amount"] = 10.1  # not through parse_json
    with pytest.raises(PayloadError, match="refusing float"):
        order_from_payload(body)


# -- refunds ---------------------------------------------------------------------------------


def test_refunds_create_sample() -> None:
    body = load("refunds-create.json")
    assert type(body["refund_line_items"][0]["subtotal"]) is Decimal  # a JSON number in the sample
    refund = refund_from_payload(body)
    assert refund.refund_id == "890088186047892319" and refund.order_id == "820982911946154508"
    assert refund.key == "refund:890088186047892319"
    assert len(refund.lines) == 5
    first = refund.lines[0]
    assert (first.line_item_id, first.quantity, first.subtotal, first.total_tax) == (
        "487817672276298554", 1, D("89.99"), D("0.00"))
    assert type(first.subtotal) is Decimal and str(first.subtotal) == "89.99"  # from the *_set string
    assert [l.subtotal for l in refund.lines] == [D("89.99"), D("19.99"), D("24.99"), D("159.99"), D("119.99")]
    assert (refund.discrepancy, refund.shipping) == (D(0), D(0))
    assert refund.created_at == datetime(2021, 12, 31, 19, 0, tzinfo=timezone(timedelta(hours=-5)))


def test_numeric_and_string_subtotals_without_sets() -> None:
    body = load("refunds-create.json")
    for item in body["refund_line_items"]:
        del item["subtotal_set"], item["total_tax_set"]
    body["refund_line_items"][1]["subtotal"] = "19.99"  # as in the REST calculate example
    refund = refund_from_payload(body)
    assert [l.subtotal for l in refund.lines] == [D("89.99"), D("19.99"), D("24.99"), D("159.99"), D("119.99")]
    assert all(type(l.subtotal) is Decimal and type(l.total_tax) is Decimal for l in refund.lines)
    assert refund.lines[0].total_tax == D("0.0")


def test_refund_line_without_any_subtotal_is_prorated_later() -> None:
    refund = refund_from_payload(parse(
        '{"id": 9, "order_id": 1001, "created_at": "2026-11-04T10:00:00Z",'
        ' "refund_line_items": [{"line_item": {"id": 1}, "quantity": 2}]}'))
    assert [(l.line_item_id, l.quantity, l.subtotal, l.total_tax) for l in refund.lines] == [("1", 2, None, D(0))]


def test_rest_refund_discounted_line() -> None:
    refund = refund_from_payload(load("rest-refund-discounted-line.json")["refund"])
    assert [(l.line_item_id, l.subtotal, l.total_tax) for l in refund.lines] == [
        ("703073504", D("195.66"), D("3.98")), ("466157049", D("195.67"), D("3.98"))]
    assert refund.lines[1].subtotal == D("195.67")


def test_rest_refund_shipping_adjustment_is_shipping_only() -> None:
    refund = refund_from_payload(load("rest-refund-shipping-adjustment.json")["refund"])
    assert refund.lines == ()
    assert refund.shipping == D("5.00")  # Shopify's -5.00, as a magnitude
    assert refund.discrepancy == D(0)


def test_rest_refund_calculate_is_not_a_refund() -> None:
    """The calculate response has no id: a suggestion, never a refund to apply."""
    with pytest.raises(PayloadError, match=r"^refund\.id: missing$"):
        refund_from_payload(load("rest-refund-calculate.json")["refund"], order_id_hint="450789469")


def test_discrepancies_and_shipping_are_summed() -> None:
    refund = refund_from_payload(parse(json.dumps({
        "id": 11, "order_id": 1001, "processed_at": "2026-11-04T10:00:00-05:00",
        "refund_line_items": [],
        "order_adjustments": [
            {"kind": "refund_discrepancy", "amount": "-10.00", "amount_set": money_set("-10.00")},
            {"kind": "refund_discrepancy", "amount": "2.50"},
            {"kind": "shipping_refund", "amount": "-5.00", "amount_set": money_set("-5.00")},
        ],
        "refund_shipping_lines": [{"id": 1, "subtotal_amount_set": money_set("4.00", "3.00")}],
    })))
    assert refund.discrepancy == D("-7.50")
    assert refund.shipping == D("9.00")
    assert refund.created_at == datetime(2026, 11, 4, 15, 0, tzinfo=timezone.utc)


def test_refund_order_id_from_hint_and_mismatch() -> None:
    body = load("refunds-create.json")
    del body["order_id"]
    assert refund_from_payload(body, order_id_hint="77").order_id == "77"
    with pytest.raises(PayloadError, match="order_id missing"):
        refund_from_payload(body)
    with pytest.raises(PayloadError, match="not the expected order 77"):
        refund_from_payload(load("refunds-create.json"), order_id_hint="77")


@pytest.mark.parametrize(
    "change, field",
    [
        (lambda b: b.pop("id"), r"refund\.id: missing"),
        (lambda b: b.update(created_at=None, processed_at=None), "created_at and processed_at both missing"),
        (lambda b: b["refund_line_items"][0].pop("line_item_id") and b["refund_line_items"][0].pop("line_item"),
         r"refund_line_items\[0\]\.line_item_id: missing"),
        (lambda b: b["refund_line_items"][2].update(quantity="1"), r"refund_line_items\[2\]\.quantity"),
        (lambda b: b["refund_line_items"][0]["subtotal_set"]["shop_money"].update(amount="1e5"),
         r"refund_line_items\[0\]\.subtotal_set\.shop_money\.amount: not a decimal amount"),
        (lambda b: b.update(order_adjustments=[{"kind": "refund_discrepancy", "amount": "ten"}]),
         r"order_adjustments\[0\]\.amount: not a decimal amount"),
        (lambda b: b.update(refund_shipping_lines=[{"id": 1}]), r"refund_shipping_lines\[0\]: neither subtotal_amount"),
    ],
)
def test_refund_errors_name_the_field(change, field: str) -> None:
    body = load("refunds-create.json")
    change(body)
    with pytest.raises(PayloadError, match=field):
        refund_from_payload(body)


# -- disputes --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["disputes-create.json", "disputes-update.json"])
def test_dispute_samples(name: str) -> None:
    dispute = dispute_from_payload(load(name))
    assert (dispute.dispute_id, dispute.order_id, dispute.kind, dispute.status, dispute.amount) == (
        "285332461850802063", "820982911946154508", "chargeback", "under_review", D("11.50"))
    assert dispute.occurred_at == datetime(2021, 12, 31, 19, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert dispute.zeroes_order is True
    assert dispute.key == "dispute:285332461850802063:under_review"


def test_rest_dispute_list() -> None:
    disputes = load("rest-disputes-list.json")["disputes"]
    with pytest.raises(PayloadError, match="order_id is null"):
        dispute_from_payload(disputes[0])
    assert order_id_of("disputes/update", disputes[0]) is None
    parsed = [dispute_from_payload(d) for d in disputes[1:]]
    assert [(d.kind, d.status, d.zeroes_order) for d in parsed[:3]] == [
        ("chargeback", "needs_response", True), ("chargeback", "won", False), ("inquiry", "needs_response", False)]


def test_dispute_time_is_finalized_on_once_set() -> None:
    body = load("disputes-update.json")
    body.update(status="won", finalized_on="2022-02-01T10:00:00-05:00")
    dispute = dispute_from_payload(body)
    assert dispute.occurred_at == datetime(2022, 2, 1, 15, 0, tzinfo=timezone.utc)
    assert dispute.zeroes_order is False


def test_dispute_errors() -> None:
    body = load("disputes-create.json")
    body["amount"] = "eleven"
    with pytest.raises(PayloadError, match="amount: not a decimal amount"):
        dispute_from_payload(body)
    body = load("disputes-create.json")
    body["type"] = None
    with pytest.raises(PayloadError, match="type: expected a non-empty string"):
        dispute_from_payload(body)


# -- order edits -----------------------------------------------------------------------------


def test_orders_edited_sample() -> None:
    delta = edit_from_payload(load("orders-edited.json"))
    assert delta.edit_id == "78912328793123782"
    assert delta.order_id == "820982911946154508"
    assert delta.added == (("78643924236718232", 1),)
    assert delta.removed == (("487817672276298554", 1),)
    assert delta.occurred_at == datetime(2022, 1, 1, 0, 0, tzinfo=timezone.utc)


def test_edit_priced_from_a_later_snapshot() -> None:
    """The sample edit adds line 78643924236718232: price it from an order that has it."""
    delta = edit_from_payload(load("orders-edited.json"))
    order = load("orders-create.json")
    order["line_items"].append(line_item(78643924236718232, "40.00", quantity=1, discounts=("4.00",)))
    event = edit_notice(delta, order_from_payload(order, "orders/updated"))
    assert event.key == "edit:78912328793123782"
    assert event.added == (AddedLine("78643924236718232", 1, D("36.00"), "Item 78643924236718232"),)
    assert event.removed == (("487817672276298554", 1),)
    assert event.occurred_at == delta.occurred_at


def test_edit_value_is_prorated_and_rounded_half_up() -> None:
    edit = parse(json.dumps({"order_edit": {
        "id": 5, "order_id": 1001, "created_at": "2026-11-03T10:00:00Z",
        "line_items": {"additions": [{"id": 2, "delta": 1}, {"id": 3, "delta": 2}], "removals": []}}}))
    snapshot = order_from_payload(order_body(
        line_item(1, "50.00"),
        line_item(2, "10.00", quantity=3, discounts=("1.00",)),          # (30 - 1) / 3 = 9.666.. -> 9.67
        line_item(3, "12.10", quantity=2, taxes=("4.20",), discounts=("0.01",)),  # 24.20 - 0.01 - 4.20 (line tax)
        taxes_included=True,
    ))
    event = edit_notice(edit_from_payload(edit), snapshot)
    assert [(a.line_item_id, a.quantity, a.value) for a in event.added] == [("2", 1, D("9.67")), ("3", 2, D("19.99"))]
    assert all(type(a.value) is Decimal for a in event.added)
    assert event.occurred_at == datetime(2026, 11, 3, 10, 0, tzinfo=timezone.utc)


def test_edit_value_uses_the_currency_minor_unit() -> None:
    edit = parse('{"order_edit": {"id": 6, "order_id": 1001, "created_at": "2026-11-03T10:00:00Z",'
                 ' "line_items": {"additions": [{"id": 2, "delta": 1}]}}}')
    snapshot = order_from_payload(order_body(line_item(2, "1000", quantity=3, discounts=("1",), currency="JPY"),
                                             currency="JPY"))
    (added,) = edit_notice(edit_from_payload(edit), snapshot).added
    assert added.value == D("1000")  # 2999 / 3 = 999.67 -> 1000 yen, no decimals
    assert str(added.value) == "1000"


def test_edit_of_a_gift_card_adds_no_value() -> None:
    edit = parse('{"order_edit": {"id": 6, "order_id": 1001, "created_at": "2026-11-03T10:00:00Z",'
                 ' "line_items": {"additions": [{"id": 2, "delta": 1}]}}}')
    snapshot = order_from_payload(order_body(line_item(2, "25.00", gift_card=True)))
    assert edit_notice(edit_from_payload(edit), snapshot).added[0].value == D("0.00")


def test_edit_with_a_stale_snapshot_needs_a_fetch() -> None:
    delta = edit_from_payload(load("orders-edited.json"))
    with pytest.raises(NeedsFetch, match="line 78643924236718232 is not on order 820982911946154508 yet"):
        edit_notice(delta, order_from_payload(load("orders-create.json")))
    with pytest.raises(ValueError, match="is for order 820982911946154508, not 1001"):
        edit_notice(delta, order_from_payload(order_body(line_item(1, "1.00"))))


def test_edit_errors() -> None:
    body = load("orders-edited.json")
    body["order_edit"]["line_items"]["additions"][0]["delta"] = 0
    with pytest.raises(PayloadError, match=r"line_items\.additions\[0\]\.delta: must be at least 1"):
        edit_from_payload(body)
    with pytest.raises(PayloadError, match="order_edit: expected an object"):
        edit_from_payload({"id": 1})


# -- returns and exchanges -------------------------------------------------------------------


def test_returns_approve_sample_is_thin() -> None:
    ret = return_from_payload(load("returns-approve.json"))
    assert (ret.return_id, ret.order_id, ret.status) == ("123134564567890", "4783296544821", "open")
    assert ret.returned == () and ret.exchanged == ()
    assert ret.complete is False  # total_return_line_items 2, none listed; exchange line_item null
    assert ret.exchange_line_count == 1  # an exchange exists even though it has no line yet
    snapshot = order_from_payload(order_body(line_item(1, "10.00"), id=4783296544821))
    with pytest.raises(NeedsFetch, match="fetch the return"):
        exchange_notice(ret, snapshot)


@pytest.mark.parametrize(
    "name, order_id, status",
    [("returns-request.json", "4783296544821", "requested"), ("returns-close.json", "4783296544821", "closed"),
     ("returns-cancel.json", "4783296544821", "canceled"), ("returns-decline.json", "4783296544821", "declined"),
     ("returns-reopen.json", "4783296544821", "open"), ("returns-update.json", None, None)],
)
def test_return_samples_parse_and_are_incomplete(name: str, order_id: str | None, status: str | None) -> None:
    ret = return_from_payload(load(name))
    assert (ret.return_id, ret.order_id, ret.status) == ("123134564567890", order_id, status)
    assert ret.complete is False  # every webhook sample leaves the lines out one way or another
    assert ret.returned == () and ret.exchanged == () and ret.exchange_line_count == 0


def full_return(**extra: Any) -> dict:
    body = {
        "id": 900, "status": "closed", "order": {"id": 1001},
        "total_return_line_items": 2, "total_exchange_line_items": 1,
        "return_line_items": [
            {"id": 1, "quantity": 1, "fulfillment_line_item": {"id": 71, "line_item": {"id": 1}}},
            {"id": 2, "quantity": 1, "line_item": {"id": 2}},
        ],
        "exchange_line_items": [{"id": 3, "line_item": {"id": 3, "quantity": 1}}],
    }
    body.update(extra)
    return parse(json.dumps(body))


def test_exchange_priced_from_the_order_snapshot() -> None:
    ret = return_from_payload(full_return())
    assert ret.complete is True
    assert ret.returned == (("1", 1), ("2", 1)) and ret.exchanged == (("3", 1),)
    assert ret.exchange_line_count == 1
    snapshot = order_from_payload(order_body(
        line_item(1, "80.00"), line_item(2, "40.00"), line_item(3, "60.00", discounts=("6.00",))))
    event = exchange_notice(ret, snapshot)
    assert event is not None
    assert event.key == "return:900" and event.order_id == "1001"
    assert event.returned == (ReturnedLine("1", 1), ReturnedLine("2", 1))
    assert event.added == (AddedLine("3", 1, D("54.00"), "Item 3"),)
    assert event.occurred_at == snapshot.updated_at  # the return body carries no time
    at = datetime(2026, 11, 9, tzinfo=timezone.utc)
    assert exchange_notice(ret, snapshot, occurred_at=at).occurred_at == at


def test_return_without_exchange_lines_is_no_exchange() -> None:
    ret = return_from_payload(full_return(exchange_line_items=[], total_exchange_line_items=0))
    assert ret.complete is True and ret.exchange_line_count == 0
    assert exchange_notice(ret, order_from_payload(order_body(line_item(1, "80.00")))) is None


def test_exchange_line_missing_from_the_snapshot_needs_a_fetch() -> None:
    ret = return_from_payload(full_return())
    with pytest.raises(NeedsFetch, match="line 3 is not on order 1001 yet"):
        exchange_notice(ret, order_from_payload(order_body(line_item(1, "80.00"), line_item(2, "40.00"))))


def test_return_errors() -> None:
    with pytest.raises(PayloadError, match=r"return_line_items\[0\]: no line_item"):
        return_from_payload(full_return(return_line_items=[{"id": 1, "quantity": 1}]))
    with pytest.raises(PayloadError, match=r"return\.id: missing"):
        return_from_payload({"status": "open"})


# -- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic, name, order_id, key",
    [
        ("orders/create", "orders-create.json", "820982911946154508", "order:820982911946154508"),
        ("orders/paid", "orders-paid.json", "820982911946154508", "order:820982911946154508"),
        ("orders/updated", "orders-create.json", "820982911946154508", "order:820982911946154508"),
        ("orders/cancelled", "orders-cancelled.json", "820982911946154508", "order:820982911946154508"),
        ("orders/edited", "orders-edited.json", "820982911946154508", "edit:78912328793123782"),
        ("refunds/create", "refunds-create.json", "820982911946154508", "refund:890088186047892319"),
        ("disputes/create", "disputes-create.json", "820982911946154508", "dispute:285332461850802063:under_review"),
        ("disputes/update", "disputes-update.json", "820982911946154508", "dispute:285332461850802063:under_review"),
        ("returns/approve", "returns-approve.json", "4783296544821", "return:123134564567890"),
        ("returns/request", "returns-request.json", "4783296544821", "return:123134564567890"),
        ("returns/close", "returns-close.json", "4783296544821", "return:123134564567890"),
        ("returns/update", "returns-update.json", None, "return:123134564567890"),
        ("order_transactions/create", "order_transactions-create.json", "820982911946154508",
         "transaction:120560818172775265"),
        ("app/uninstalled", "app-uninstalled.json", None, None),
        ("customers/data_request", "customers-data_request.json", None, None),
        ("customers/redact", "customers-redact.json", None, None),
        ("shop/redact", "shop-redact.json", None, None),
    ],
)
def test_order_id_and_business_key(topic: str, name: str, order_id: str | None, key: str | None) -> None:
    body = load(name)
    assert order_id_of(topic, body) == order_id
    assert business_key(topic, body) == key


def test_business_key_matches_the_notice_keys() -> None:
    assert business_key("refunds/create", load("refunds-create.json")) == refund_from_payload(
        load("refunds-create.json")).key
    assert business_key("disputes/update", load("disputes-update.json")) == dispute_from_payload(
        load("disputes-update.json")).key
    order = load("orders-create.json")
    assert business_key("orders/paid", order) == order_from_payload(order).order_paid(None).key


def test_routing_errors_name_the_field() -> None:
    with pytest.raises(PayloadError, match=r"order\.id: missing"):
        order_id_of("orders/create", {"name": "#1"})
    with pytest.raises(PayloadError, match=r"refund\.order_id: missing"):
        order_id_of("refunds/create", {"id": 1})
    with pytest.raises(PayloadError, match="order_edit: expected an object"):
        business_key("orders/edited", {"id": 1})
    assert order_id_of("some/unknown_topic", {"id": 1}) is None
    assert business_key("some/unknown_topic", {"id": 1}) is None


def test_translation_does_not_mutate_the_payload() -> None:
    body = load("rest-order-with-discounts.json")["order"]
    before = copy.deepcopy(body)
    order_from_payload(body)
    assert body == before
