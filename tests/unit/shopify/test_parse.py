"""Shopify webhook bytes -> snapshots and events, through the one entry point
``parse_delivery``, proven on Shopify's own samples and on small payloads built to hit one
quirk each (shop vs presentment money, numbers vs strings, thin bodies, bounds).

The samples in tests/fixtures/shopify are byte copies of shared/shopify-samples (see its
SOURCES.md): Shopify-published, shape-only, not arithmetically consistent. So tests here
assert what was parsed, never that sample totals add up.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from policy.attribution import Candidate, attribute
from policy.events import OrderPaid
from policy.sale import line_base
from shopify_app.shopify.body import parse_json
from shopify_app.shopify.errors import PayloadError
from shopify_app.shopify.models import Order
from shopify_app.shopify.parse import Parsed, identify, parse_delivery
from shopify_app.shopify.snapshots import (
    CustomerRedact,
    DataRequest,
    EditSnapshot,
    OrderSnapshot,
    ReturnSnapshot,
    ScopesUpdate,
    ShopRedact,
    ShopSnapshot,
)
from shopify_app.shopify.topics import COMPLIANCE_TOPICS, TOPICS, TopicKind
from tests.support.bodies import FIXTURES, line_item, load, money_set, order_body, parsed, raw, refund_body, refused

D = Decimal
MAX_ID = 2**63 - 1


def assert_no_float(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        assert not isinstance(item, float), item
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def test_raw_helper_writes_decimals_as_exact_json_numbers() -> None:
    body = {"a": D("12345678901234567890.123456789"), "b": ["x", None, 3, True, {"c": D("1E+999999999")}]}
    assert raw(body) == b'{"a": 12345678901234567890.123456789, "b": ["x", null, 3, true, {"c": 1E+999999999}]}'
    assert parse_json(raw(body)) == body


# -- parse_json ------------------------------------------------------------------------------


SAMPLES = sorted(p.name for p in FIXTURES.glob("*.json"))
TOPIC_SAMPLES = {name: name.removesuffix(".json").replace("-", "/", 1) for name in SAMPLES if not name.startswith("rest-")}
"""The webhook samples, named after their topic (``orders-create.json``); the ``rest-*`` ones
are REST API answers, which no topic sends."""


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_decodes_without_a_float(name: str) -> None:
    body = load(name)
    assert isinstance(body, dict) and body
    assert_no_float(body)


@pytest.mark.parametrize("name", sorted(TOPIC_SAMPLES))
def test_every_webhook_sample_parses_under_its_topic(name: str) -> None:
    topic = TOPIC_SAMPLES[name]
    result = parse_delivery(topic, (FIXTURES / name).read_bytes())
    assert (result.topic, result.kind) == (topic, TOPICS.get(topic))
    assert (result.snapshot is None) == (topic not in TOPICS)  # an unhandled topic is only decoded


def test_json_numbers_become_decimal_or_int_never_float() -> None:
    body = parse_json(b'{"a": 89.99, "b": 0.0, "c": 3, "d": [1e3, -7.3], "e": 820982911946154508}')
    assert type(body["a"]) is Decimal and body["a"] == D("89.99")
    assert type(body["b"]) is Decimal and str(body["b"]) == "0.0"
    assert type(body["c"]) is int and body["c"] == 3
    assert [type(x) for x in body["d"]] == [Decimal, Decimal] and body["d"] == [D("1E+3"), D("-7.3")]
    assert body["e"] == 820982911946154508  # a 64-bit id stays exact


@pytest.mark.parametrize(
    "body, reason",
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
        (b'{"note": "\\uDFFF"}', "unpaired surrogate"),  # upper-case hex escapes too
        (b'{"note": "\\\\\\ud800"}', "unpaired surrogate"),  # an escaped backslash, then the escape
        (b'{"amount": NaN}', "NaN is not a number"),
        (b'{"amount": -Infinity}', "-Infinity is not a number"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),  # recursion, not a crash
        (b'{"id": ' + b"1" * 5000 + b"}", "not valid JSON"),  # beyond Python's int digit limit
    ],
)
def test_parse_json_refuses(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=re.escape(reason)) as caught:
        parse_json(body)
    assert "\n" not in str(caught.value)  # one line


@pytest.mark.parametrize(
    "body, text",
    [
        (b'{"note": "\\\\u0000"}', "\\u0000"),  # an escaped backslash: the text, not a NUL
        (b'{"note": "\\ud83d\\ude00"}', "\U0001F600"),  # a surrogate pair is one character
        (b'{"note": "\\u00e9"}', "\u00e9"),
    ],
)
def test_parse_json_keeps_escapes_that_are_storable(body: bytes, text: str) -> None:
    assert parse_json(body)["note"] == text


def test_parse_json_wants_bytes() -> None:
    with pytest.raises(TypeError):
        parse_json('{"a": 1}')  # type: ignore[arg-type]


def test_parse_json_keeps_non_ascii_text() -> None:
    assert parse_json('{"title": "Café ☕"}'.encode())["title"] == "Café ☕"


def test_parse_delivery_decodes_with_parse_json() -> None:
    with pytest.raises(PayloadError, match="NUL character"):
        parse_delivery("orders/create", b'{"id": 1, "note": "\\u0000"}')
    with pytest.raises(PayloadError, match="not valid UTF-8"):
        parse_delivery("some/unknown_topic", b"\xff")  # even an unhandled topic's body is decoded


# -- topics ----------------------------------------------------------------------------------


def test_topic_table() -> None:
    assert {topic for topic, kind in TOPICS.items() if kind is TopicKind.ORDER} == {
        "orders/create", "orders/paid", "orders/updated", "orders/cancelled", "orders/fulfilled",
        "orders/partially_fulfilled"}
    assert {topic for topic, kind in TOPICS.items() if kind is TopicKind.RETURN} == {
        f"returns/{event}" for event in ("request", "approve", "process", "close", "update", "cancel", "decline", "reopen")}
    assert (TOPICS["refunds/create"], TOPICS["disputes/create"], TOPICS["disputes/update"], TOPICS["orders/edited"]) == (
        TopicKind.REFUND, TopicKind.DISPUTE, TopicKind.DISPUTE, TopicKind.EDIT)
    assert (TOPICS["app/uninstalled"], TOPICS["app/scopes_update"], TOPICS["customers/data_request"],
            TOPICS["customers/redact"], TOPICS["shop/redact"]) == (
        TopicKind.APP_UNINSTALLED, TopicKind.SCOPES_UPDATE, TopicKind.DATA_REQUEST, TopicKind.CUSTOMERS_REDACT,
        TopicKind.SHOP_REDACT)
    assert len(TOPICS) == 6 + 1 + 2 + 1 + 8 + 5
    assert COMPLIANCE_TOPICS == {"customers/data_request", "customers/redact", "shop/redact"}
    with pytest.raises(TypeError):
        TOPICS["orders/whatever"] = TopicKind.ORDER  # type: ignore[index]


def test_a_topic_not_in_the_table_is_not_handled() -> None:
    body = (FIXTURES / "order_transactions-create.json").read_bytes()
    assert parse_delivery("order_transactions/create", body) == Parsed("order_transactions/create", None, None, None, None)
    assert identify("order_transactions/create", body) == (None, None)


# -- orders ----------------------------------------------------------------------------------


def test_orders_create_sample() -> None:
    result = parse_delivery("orders/create", (FIXTURES / "orders-create.json").read_bytes())
    assert (result.topic, result.kind, result.order_id, result.key) == (
        "orders/create", TopicKind.ORDER, "820982911946154508", "order:820982911946154508")
    snap = result.snapshot
    assert isinstance(snap, OrderSnapshot)
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
    assert type(first.unit_price) is Decimal and str(first.unit_price) == "89.99"
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
    assert snap.line("789012345678901234") is snap.lines[1] and snap.line("1") is None


def test_orders_paid_topic_means_paid_whatever_the_status() -> None:
    assert parsed("orders/paid", load("orders-paid.json")).paid is True
    assert parsed("orders/cancelled", load("orders-cancelled.json")).paid is False
    assert parsed("orders/updated", load("orders-paid.json")).paid is False  # the same body, another topic


@pytest.mark.parametrize("status, paid", [("paid", True), ("partially_refunded", True), ("refunded", True),
                                          ("pending", False), ("authorized", False), ("voided", False), (None, False)])
def test_paid_from_financial_status(status: str | None, paid: bool) -> None:
    body = order_body(line_item(1, "10.00"), financial_status=status)
    assert parsed("orders/updated", body).paid is paid


def test_processed_at_else_created_at() -> None:
    body = order_body(line_item(1, "10.00"), processed_at=None, created_at="2026-11-01T09:00:00+01:00")
    assert parsed("orders/create", body).processed_at == datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
    body["created_at"] = None
    assert refused("orders/create", body) == "order 1001: processed_at and created_at both missing"


def test_rest_order_with_discounts_allocations_and_base() -> None:
    snap = parsed("orders/updated", load("rest-order-with-discounts.json")["order"])
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


def test_business_key_matches_the_event_keys() -> None:
    """The keys of Parsed are spelled like the policy events' keys."""
    result = parse_delivery("orders/paid", raw(load("rest-order-with-discounts.json")["order"]))
    snap = result.snapshot
    sale = OrderPaid(order_id=snap.order_id, order_name=snap.name, currency=snap.currency,
                     taxes_included=snap.taxes_included, lines=snap.lines, referral=None, processed_at=snap.processed_at)
    assert result.key == sale.key == "order:450789469"
    assert sale.order_name == "#1001"
    assert sale.processed_at == datetime(2008, 1, 10, 11, 0, tzinfo=timezone(timedelta(hours=-5)))
    refund = parse_delivery("refunds/create", (FIXTURES / "refunds-create.json").read_bytes())
    assert refund.key == refund.snapshot.key == "refund:890088186047892319"
    dispute = parse_delivery("disputes/update", (FIXTURES / "disputes-update.json").read_bytes())
    assert dispute.key == dispute.snapshot.key == "dispute:285332461850802063:under_review"


def test_presentment_money_is_never_used() -> None:
    """A CAD shop selling in USD: shop money differs from presentment money everywhere."""
    item = line_item(1, "10.00", quantity=2, discounts=("1.00",), taxes=("1.30",), currency="CAD")
    item["price"] = "7.30"  # a plain field beside its _set is not read either
    item["price_set"] = money_set("10.00", "7.30", "CAD", "USD")
    item["discount_allocations"][0]["amount_set"] = money_set("1.00", "0.73", "CAD", "USD")
    item["tax_lines"][0]["price_set"] = money_set("1.30", "0.95", "CAD", "USD")
    snap = parsed("orders/create", order_body(item, currency="CAD", presentment_currency="USD"))
    (line,) = snap.lines
    assert (line.unit_price, line.discount, line.tax) == (D("10.00"), D("1.00"), D("1.30"))
    assert snap.currency == "CAD"

    refund = parsed("refunds/create", refund_body(
        refund_line_items=[{"line_item_id": 1, "quantity": 1, "subtotal": D("7.3"), "total_tax": D("0.95"),
                            "subtotal_set": money_set("10.00", "7.30", "CAD", "USD"),
                            "total_tax_set": money_set("1.30", "0.95", "CAD", "USD")}],
        order_adjustments=[{"kind": "refund_discrepancy", "amount": "-7.30",
                            "amount_set": money_set("-10.00", "-7.30", "CAD", "USD")}],
    ))
    assert refund.lines[0].subtotal == D("10.00") and refund.lines[0].total_tax == D("1.30")
    assert refund.discrepancy == D("-10.00")
    assert refund.currency == "CAD"  # shop money's, never presentment's USD


def test_shop_money_in_another_currency_than_the_order_is_refused() -> None:
    item = line_item(1, "10.00", discounts=("1.00",), taxes=("0.50",))
    item["price_set"] = money_set("10.00", code="EUR")
    assert refused("orders/create", order_body(item, currency="USD")) == (
        "order 1001: line_items[0].price_set.shop_money.currency_code: 'EUR' is not 'USD', the shop currency")
    item = line_item(1, "10.00", discounts=("1.00",), taxes=("0.50",))
    item["tax_lines"][0]["price_set"] = {"shop_money": {"amount": "0.50", "currency": "GBP"}}  # the other spelling
    assert refused("orders/create", order_body(item, currency="USD")) == (
        "order 1001: line_items[0].tax_lines[0].price_set.shop_money.currency: 'GBP' is not 'USD', the shop currency")


def test_plain_fields_when_sets_are_absent() -> None:
    item = line_item(1, "19.99", quantity=3)
    del item["price_set"]
    item["discount_allocations"] = [{"amount": "2.00"}, {"amount": D("0.5")}]  # a string and a JSON number
    item["tax_lines"] = [{"price": "1.10"}]
    (line,) = parsed("orders/create", order_body(item)).lines
    assert (line.unit_price, line.discount, line.tax) == (D("19.99"), D("2.50"), D("1.10"))


def test_taxes_included() -> None:
    snap = parsed("orders/create", order_body(line_item(1, "121.00", taxes=("21.00",), currency="EUR"), currency="EUR",
                                              taxes_included=True))
    assert snap.taxes_included is True
    assert line_base(snap.lines[0], snap.currency, snap.taxes_included).amount == D("100.00")


def test_taxes_included_must_be_stated() -> None:
    body = order_body(line_item(1, "10.00"))
    del body["taxes_included"]
    assert refused("orders/create", body) == "order 1001: taxes_included: missing"
    body["taxes_included"] = None
    assert refused("orders/create", body) == "order 1001: taxes_included: expected true or false, got None"
    body["taxes_included"] = "true"
    assert refused("orders/create", body) == "order 1001: taxes_included: expected true or false, got 'true'"


def test_gift_card_line_is_flagged() -> None:
    (line,) = parsed("orders/create", order_body(line_item(1, "50.00", gift_card=True, product_id=None))).lines
    assert line.gift_card is True and line.product_id is None


def test_title_falls_back_to_name() -> None:
    lines = parsed("orders/create", order_body(line_item(1, "5.00", title=None, name="Mug - Blue"),
                                               line_item(2, "5.00", title="  ", name=None))).lines
    assert [line.title for line in lines] == ["Mug - Blue", ""]


def test_note_attribute_ref_is_a_signal() -> None:
    body = order_body(line_item(1, "10.00"), note_attributes=[
        {"name": "gift wrap", "value": "yes"}, {"name": " REF ", "value": ""}, {"name": "Ref", "value": "ANNA"},
        {"name": "ref", "value": "BOB"}])
    clues = parsed("orders/create", body).clues
    assert clues.ref_attribute == "ANNA"  # case-insensitive name, the first non-blank value
    anna = Candidate("anna", "anna@example.com")
    assert attribute(clues, [anna]) == (anna, "attributed to anna by ref attribute")


def test_landing_site_ref_is_a_signal() -> None:
    body = order_body(line_item(1, "10.00"), landing_site="/products/x?utm_source=ig&ref=Anna")
    clues = parsed("orders/create", body).clues
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
    clues = parsed("orders/create", body).clues
    assert clues.discount_codes == ("ANNA10",)
    assert clues.buyer_emails == ("buyer@example.com", "Anna@Example.com")
    candidate, why = attribute(clues, [Candidate("anna10", "anna@example.com")])
    assert candidate is None and "self-referral" in why


def test_discount_codes_are_deduplicated_in_order() -> None:
    body = order_body(
        line_item(1, "10.00"),
        discount_codes=[{"code": "B"}, {"code": ""}, {"code": "A"}],
        discount_applications=[{"type": "discount_code", "code": "C"}, {"type": "manual", "code": "D"},
                               {"type": "discount_code", "code": "A"}],
        email="x@example.com", contact_email="x@example.com", customer={"email": "x@example.com"},
    )
    clues = parsed("orders/create", body).clues
    assert clues.discount_codes == ("B", "A", "C")
    assert clues.buyer_emails == ("x@example.com",)


def test_fulfilled_at_is_the_earliest_successful_fulfilment() -> None:
    body = order_body(line_item(1, "10.00"), fulfillments=[
        {"id": 1, "status": "success", "created_at": "2026-11-06T10:00:00+00:00"},
        {"id": 2, "status": "cancelled", "created_at": "2026-11-03T10:00:00+00:00"},
        {"id": 3, "status": "success", "created_at": "2026-11-05T12:00:00+01:00"},
        {"id": 4, "status": "failure"},
    ])
    assert parsed("orders/fulfilled", body).fulfilled_at == datetime(2026, 11, 5, 11, 0, tzinfo=timezone.utc)
    body["fulfillments"].append({"id": 5, "status": "success", "created_at": None})
    assert refused("orders/fulfilled", body) == "order 1001: fulfillments[4].created_at: missing on a successful fulfilment"


def test_embedded_refunds_in_orders_updated() -> None:
    body = load("orders-create.json")
    body["financial_status"] = "partially_refunded"
    body["cancelled_at"] = None
    body["refunds"] = [load("refunds-create.json"), load("rest-refund-shipping-adjustment.json")["refund"]]
    del body["refunds"][1]["order_id"]  # an embedded refund may leave its order out
    snap = parsed("orders/updated", body)
    assert snap.paid is True and snap.cancelled_at is None
    assert [r.refund_id for r in snap.refunds] == ["890088186047892319", "929361467"]
    assert all(r.order_id == "820982911946154508" for r in snap.refunds)
    assert len(snap.refunds[0].lines) == 5
    assert snap.refunds[1].lines == () and snap.refunds[1].shipping == D("5.00")
    assert [r.currency for r in snap.refunds] == ["USD", "USD"]


def test_embedded_refund_of_another_order_is_refused() -> None:
    body = load("orders-create.json")
    body["refunds"] = [load("rest-refund-shipping-adjustment.json")["refund"]]  # order 450789469
    assert refused("orders/updated", body) == (
        "order 820982911946154508: refunds[0].order_id: 450789469 is not the expected order 820982911946154508")


def test_embedded_refund_errors_have_their_full_path() -> None:
    body = order_body(line_item(1, "10.00"), refunds=[refund_body(), refund_body(
        id=8, refund_line_items=[{"line_item_id": 1, "quantity": 1, "subtotal_set": money_set("1.00"),
                                  "total_tax_set": money_set("0.10", code="EUR")}])])
    assert refused("orders/updated", body) == (
        "order 1001: refunds[1].refund_line_items[0].total_tax_set.shop_money.currency_code: 'EUR' is not 'USD', "
        "the currency of refund_line_items[0].subtotal_set.shop_money.currency_code")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b.pop("id"), "order: id: missing"),
        (lambda b: b.update(id=D("12.0")), "order: id: not a Shopify id: Decimal('12.0')"),
        (lambda b: b.update(id=True), "order: id: not a Shopify id: True"),
        (lambda b: b.update(currency="ZZZ"), "order 1001: currency: not an ISO 4217 currency the ledger knows: 'ZZZ'"),
        (lambda b: b.update(currency=None), "order 1001: currency: expected a non-empty string, got None"),
        (lambda b: b.pop("line_items"), "order 1001: line_items: missing"),
        (lambda b: b.update(line_items=None), "order 1001: line_items: expected an array, got null"),
        (lambda b: b.update(line_items={"0": {}}), "order 1001: line_items: expected an array, got dict"),
        (lambda b: b["line_items"][0].update(price_set=None, price="12,50"),
         "order 1001: line_items[0].price: not a decimal amount: '12,50'"),
        (lambda b: b["line_items"][0].update(price_set=None, price=None),
         "order 1001: line_items[0]: neither price_set.shop_money.amount nor price present"),
        (lambda b: b["line_items"][0]["price_set"]["shop_money"].update(amount="12x"),
         "order 1001: line_items[0].price_set.shop_money.amount: not a decimal amount: '12x'"),
        (lambda b: b["line_items"][0]["price_set"]["shop_money"].update(amount="1e5"),
         "order 1001: line_items[0].price_set.shop_money.amount: not a decimal amount: '1e5'"),
        (lambda b: b["line_items"][0]["price_set"].pop("shop_money"),
         "order 1001: line_items[0].price_set.shop_money: missing"),
        (lambda b: b["line_items"][0]["price_set"].update(shop_money="10.00"),
         "order 1001: line_items[0].price_set.shop_money: expected an object, got str"),
        (lambda b: b["line_items"][0].update(quantity=D("1.0")),
         "order 1001: line_items[0].quantity: expected an integer, got Decimal('1.0')"),
        (lambda b: b["line_items"][0].update(quantity=True), "order 1001: line_items[0].quantity: expected an integer, got True"),
        (lambda b: b["line_items"][0].update(quantity="1"), "order 1001: line_items[0].quantity: expected an integer, got '1'"),
        (lambda b: b["line_items"][0].update(quantity=-1), "order 1001: line_items[0].quantity: must be at least 0, got -1"),
        (lambda b: b["line_items"][0].update(quantity=10**6 + 1),
         "order 1001: line_items[0].quantity: more than 1000000: 1000001"),
        (lambda b: b["line_items"][0].update(price_set=None, price={"amount": "1"}),
         "order 1001: line_items[0].price: not a money value: {'amount': '1'}"),
        (lambda b: b["line_items"][0].update(gift_card=None),
         "order 1001: line_items[0].gift_card: expected true or false, got None"),
        (lambda b: b["line_items"][0].update(product_id=-5),
         "order 1001: line_items[0].product_id: Shopify id out of range 1..2**63-1: -5"),
        (lambda b: b.update(processed_at="2026-11-02T10:00:00"),
         "order 1001: processed_at: timestamp has no UTC offset: '2026-11-02T10:00:00'"),
        (lambda b: b.update(processed_at="yesterday"), "order 1001: processed_at: not an ISO 8601 timestamp: 'yesterday'"),
        (lambda b: b.update(cancelled_at=1700000000), "order 1001: cancelled_at: expected an ISO 8601 timestamp, got 1700000000"),
        (lambda b: b.update(customer=[{"email": "a@b.c"}]), "order 1001: customer: expected an object, got list"),
        (lambda b: b["line_items"].append(None), "order 1001: line_items[1]: expected an object, got null"),
    ],
)
def test_order_errors_name_the_field(change, message: str) -> None:
    body = order_body(line_item(1, "10.00"))
    change(body)
    assert refused("orders/create", body) == message


@pytest.mark.parametrize(
    "price, message",
    [
        (D("1E+999999999"), "amount out of range: Decimal('1E+999999999')"),
        (D("1E-999999999"), "amount out of range: Decimal('1E-999999999')"),
        (D("-1E+999999999"), "amount out of range: Decimal('-1E+999999999')"),
        ("1E+999999999", "not a decimal amount: '1E+999999999'"),
        ("1" * 5000, "amount out of range: '" + "1" * 76 + "..."),
        ("1" * 17, "amount out of range: '11111111111111111'"),  # 10**16 and more
        ("0.0000001", "amount out of range: '0.0000001'"),  # finer than 6 decimals
    ],
)
@pytest.mark.timeout(2)
def test_absurd_amounts_are_refused_fast(price: Any, message: str) -> None:
    body = order_body(line_item(1, price, price_set=None))
    assert refused("orders/create", body).startswith(f"order 1001: line_items[0].price: {message}")


def test_amounts_at_the_bounds_are_read_exactly() -> None:
    lines = parsed("orders/create", order_body(line_item(1, "9999999999999999.999999", quantity=0, price_set=None),
                                               line_item(2, D("-9999999999999999.999999"), quantity=0, price_set=None),
                                               line_item(3, "0.000001", quantity=3))).lines
    assert [line.unit_price for line in lines] == [D("9999999999999999.999999"), D("-9999999999999999.999999"), D("0.000001")]


def test_price_times_quantity_has_a_limit() -> None:
    assert parsed("orders/create", order_body(line_item(1, "999999.99", quantity=10**6))).lines[0].quantity == 10**6
    assert refused("orders/create", order_body(line_item(1, "1000000.00", quantity=10**6))) == (
        "order 1001: line_items[0]: price x quantity 1000000000000.00 is beyond any real order (limit 1000000000000)")


@pytest.mark.parametrize("field", ["discounts", "taxes"])
def test_a_line_s_discounts_and_taxes_have_a_limit(field: str) -> None:
    """Each amount is bounded alone, so 10,000 of them could sum past anything the ledger
    holds: the sum is refused when the order is read, not when the policy rounds it."""
    at_limit = {field: ("999999999999.99",) + ("-999999999999.99", "999999999999.99") * 10}
    line = parsed("orders/create", order_body(line_item(1, "10.00", **at_limit))).lines[0]
    assert (line.discount if field == "discounts" else line.tax) == D("999999999999.99")
    beyond = {field: ("9999999999999999.99",) * 10_000}
    path = "discount_allocations" if field == "discounts" else "tax_lines"
    assert refused("orders/create", order_body(line_item(1, "10.00", **beyond))) == (
        f"order 1001: line_items[0].{path}: total 99999999999999999900.00 is beyond any real order (limit 1000000000000)")


def test_the_first_error_is_shown_and_the_rest_counted() -> None:
    body = order_body(line_item(1, "10.00", quantity=-1), line_item(2, "x"), currency="ZZZ")
    assert refused("orders/create", body) == (
        "order 1001: currency: not an ISO 4217 currency the ledger knows: 'ZZZ' (and 3 more)")


def test_a_float_never_passes_the_models() -> None:
    """parse_json never makes a float; a model handed one anyway (not through parse_json)
    refuses it rather than reading an inexact value."""
    body = order_body(line_item(1, "10.00"))
    body["line_items"][0]["price_set"]["shop_money"]["amount"] = 10.1
    with pytest.raises(ValidationError, match=r"refusing float 10\.1 as money"):
        Order.model_validate(body)
    body = order_body(line_item(1, "10.00"))
    body["line_items"][0]["quantity"] = 1.0
    with pytest.raises(ValidationError, match=r"expected an integer, got 1\.0"):
        Order.model_validate(body)


def test_validation_does_not_mutate_the_body() -> None:
    body = load("rest-order-with-discounts.json")["order"]
    before = copy.deepcopy(body)
    Order.model_validate(body).snapshot("orders/updated")
    assert body == before


# -- ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (MAX_ID, str(MAX_ID)),
        (str(MAX_ID), str(MAX_ID)),
        (f"gid://shopify/Order/{MAX_ID}", str(MAX_ID)),
        (1, "1"),
        ("0042", "42"),  # one id, however it is spelled
        (" 42 ", "42"),
    ],
)
def test_one_id_rule_accepts(value: Any, expected: str) -> None:
    result = parse_delivery("orders/create", raw(order_body(line_item(1, "10.00"), id=value)))
    assert result.order_id == expected and result.key == f"order:{expected}"


@pytest.mark.parametrize(
    "value, reason",
    [
        (2**63, "Shopify id out of range 1..2**63-1: 9223372036854775808"),
        (str(2**63), "Shopify id out of range 1..2**63-1: '9223372036854775808'"),
        (10**30, "Shopify id out of range 1..2**63-1: 1000000000000000000000000000000"),  # ints of any length once passed
        ("1" * 25, "not a Shopify id: '1111111111111111111111111'"),
        (f"gid://shopify/Order/{2**63}", "Shopify id out of range 1..2**63-1: 'gid://shopify/Order/9223372036854775808'"),
        ("gid://other/Order/5", "not a Shopify id: 'gid://other/Order/5'"),
        (0, "Shopify id out of range 1..2**63-1: 0"),
        (-7, "Shopify id out of range 1..2**63-1: -7"),
        ("", "not a Shopify id: ''"),
        ("12a", "not a Shopify id: '12a'"),
        (False, "not a Shopify id: False"),
        (D("7.0"), "not a Shopify id: Decimal('7.0')"),
        ("9" * 5000, "not a Shopify id: '" + "9" * 76 + "..."),
    ],
)
def test_one_id_rule_refuses(value: Any, reason: str) -> None:
    assert refused("orders/create", order_body(line_item(1, "10.00"), id=value)).startswith(f"order: id: {reason}")


def test_the_id_rule_is_the_same_for_every_id() -> None:
    body = refund_body(id=str(MAX_ID), order_id=f"gid://shopify/Order/{MAX_ID}",
                       refund_line_items=[{"line_item": {"id": MAX_ID}, "quantity": 1}])
    refund = parsed("refunds/create", body)
    assert (refund.refund_id, refund.order_id, refund.lines[0].line_item_id) == (str(MAX_ID),) * 3
    body["refund_line_items"][0]["line_item"]["id"] = 2**63
    assert refused("refunds/create", body) == (
        f"refund {MAX_ID}: refund_line_items[0].line_item.id: Shopify id out of range 1..2**63-1: 9223372036854775808")


# -- bounds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b["line_items"][0].update(title="t" * 1001), "line_items[0].title: longer than 1000 characters: 'ttt"),
        (lambda b: b.update(name="#" * 1001), "name: longer than 1000 characters: '###"),
        (lambda b: b.update(discount_codes=[{"code": "C" * 256}]), "discount_codes[0].code: longer than 255 characters"),
        (lambda b: b.update(discount_applications=[{"type": "discount_code", "code": "C" * 256}]),
         "discount_applications[0].code: longer than 255 characters"),
        (lambda b: b.update(email="e" * 321), "email: longer than 320 characters"),
        (lambda b: b.update(customer={"email": "e" * 321}), "customer.email: longer than 320 characters"),
        (lambda b: b.update(landing_site="/" + "x" * 10_000), "landing_site: longer than 10000 characters"),
        (lambda b: b.update(note_attributes=[{"name": "ref", "value": "v" * 10_001}]),
         "note_attributes[0].value: longer than 10000 characters"),
        (lambda b: b.update(financial_status="p" * 256), "financial_status: longer than 255 characters"),
        (lambda b: b.update(line_items=[{}] * 10_001), "line_items: more than 10000 items"),
        (lambda b: b.update(note_attributes=[{}] * 10_001), "note_attributes: more than 10000 items"),
        (lambda b: b["line_items"][0].update(tax_lines=[{"price": "1"}] * 10_001),
         "line_items[0].tax_lines: more than 10000 items"),
    ],
)
def test_over_long_strings_and_lists_are_refused(change, message: str) -> None:
    body = order_body(line_item(1, "10.00"))
    change(body)
    assert refused("orders/create", body).startswith(f"order 1001: {message}")


def test_strings_and_lists_at_their_bounds_are_read() -> None:
    body = order_body(line_item(1, "10.00", title="t" * 1000), email="e" * 320, landing_site="/" + "x" * 9999,
                      discount_codes=[{"code": "C" * 255}] + [{"code": "D"}] * 9_999)
    snap = parsed("orders/create", body)
    assert snap.lines[0].title == "t" * 1000
    assert snap.clues.discount_codes == ("C" * 255, "D")
    assert snap.clues.buyer_emails == ("e" * 320,)


def test_refund_lists_are_bounded() -> None:
    body = refund_body(refund_line_items=[{"line_item_id": 1, "quantity": 1}] * 10_001)
    assert refused("refunds/create", body) == "refund 7: refund_line_items: more than 10000 items"


# -- refunds ---------------------------------------------------------------------------------


def test_refunds_create_sample() -> None:
    body = load("refunds-create.json")
    assert type(body["refund_line_items"][0]["subtotal"]) is Decimal  # a JSON number in the sample
    result = parse_delivery("refunds/create", (FIXTURES / "refunds-create.json").read_bytes())
    assert (result.kind, result.order_id, result.key) == (TopicKind.REFUND, "820982911946154508", "refund:890088186047892319")
    refund = result.snapshot
    assert refund.refund_id == "890088186047892319" and refund.order_id == "820982911946154508"
    assert len(refund.lines) == 5
    first = refund.lines[0]
    assert (first.line_item_id, first.quantity, first.subtotal, first.total_tax) == (
        "487817672276298554", 1, D("89.99"), D("0.00"))
    assert type(first.subtotal) is Decimal and str(first.subtotal) == "89.99"  # from the *_set string
    assert [l.subtotal for l in refund.lines] == [D("89.99"), D("19.99"), D("24.99"), D("159.99"), D("119.99")]
    assert (refund.discrepancy, refund.shipping) == (D(0), D(0))
    assert refund.created_at == datetime(2021, 12, 31, 19, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert refund.currency == "USD"


def test_numeric_and_string_subtotals_without_sets() -> None:
    body = load("refunds-create.json")
    for item in body["refund_line_items"]:
        del item["subtotal_set"], item["total_tax_set"]
    body["refund_line_items"][1]["subtotal"] = "19.99"  # as in the REST calculate example
    refund = parsed("refunds/create", body)
    assert [l.subtotal for l in refund.lines] == [D("89.99"), D("19.99"), D("24.99"), D("159.99"), D("119.99")]
    assert all(type(l.subtotal) is Decimal and type(l.total_tax) is Decimal for l in refund.lines)
    assert str(refund.lines[0].total_tax) == "0.0"
    assert refund.currency is None  # no shop money bag names one


def test_refund_line_without_any_subtotal_is_prorated_later() -> None:
    refund = parsed("refunds/create", refund_body(refund_line_items=[{"line_item": {"id": 1}, "quantity": 2}]))
    assert [(l.line_item_id, l.quantity, l.subtotal, l.total_tax) for l in refund.lines] == [("1", 2, None, D(0))]


def test_rest_refund_discounted_line() -> None:
    refund = parsed("refunds/create", load("rest-refund-discounted-line.json")["refund"])
    assert [(l.line_item_id, l.subtotal, l.total_tax) for l in refund.lines] == [
        ("703073504", D("195.66"), D("3.98")), ("466157049", D("195.67"), D("3.98"))]


def test_rest_refund_shipping_adjustment_is_shipping_only() -> None:
    refund = parsed("refunds/create", load("rest-refund-shipping-adjustment.json")["refund"])
    assert refund.lines == ()
    assert refund.shipping == D("5.00")  # Shopify's -5.00, as a magnitude
    assert refund.discrepancy == D(0)
    assert refund.currency == "USD"  # named by the adjustment's amount_set


def test_rest_refund_calculate_is_not_a_refund() -> None:
    """The calculate response has no id: a suggestion, never a refund to apply."""
    assert refused("refunds/create", load("rest-refund-calculate.json")["refund"]) == (
        "refund: id: missing (and 1 more)")  # and no order_id either


def test_discrepancies_and_shipping_are_summed() -> None:
    refund = parsed("refunds/create", refund_body(
        id=11, created_at=None, processed_at="2026-11-04T10:00:00-05:00",
        order_adjustments=[
            {"kind": "refund_discrepancy", "amount": "-10.00", "amount_set": money_set("-10.00")},
            {"kind": "refund_discrepancy", "amount": "2.50"},
            {"kind": "shipping_refund", "amount": "-5.00", "amount_set": money_set("-5.00")},
            {"kind": "something_new"},  # not a kind that moves commission: its amount is not needed
        ],
        refund_shipping_lines=[{"id": 1, "subtotal_amount_set": money_set("4.00", "3.00")}],
    ))
    assert refund.discrepancy == D("-7.50")  # Shopify's sign kept
    assert refund.shipping == D("9.00")
    assert refund.created_at == datetime(2026, 11, 4, 15, 0, tzinfo=timezone.utc)  # processed_at when no created_at


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"order_adjustments": [{"kind": "refund_discrepancy", "amount": "-9999999999999999.99"}] * 10_000},
         "order_adjustments: total -99999999999999999900.00 is beyond any real order (limit 1000000000000)"),
        ({"order_adjustments": [{"kind": "refund_discrepancy", "amount": "600000000000.00"}] * 2},
         "order_adjustments: total 1200000000000.00 is beyond any real order (limit 1000000000000)"),
        ({"refund_shipping_lines": [{"subtotal_amount": "9999999999999999.99"}] * 10_000},
         "refund_shipping_lines: total with the shipping_refund adjustments 99999999999999999900.00 is beyond any "
         "real order (limit 1000000000000)"),
        ({"order_adjustments": [{"kind": "shipping_refund", "amount": "-600000000000.00"}],
          "refund_shipping_lines": [{"subtotal_amount": "400000000000.00"}]},
         "refund_shipping_lines: total with the shipping_refund adjustments 1000000000000.00 is beyond any "
         "real order (limit 1000000000000)"),
    ],
)
def test_refund_totals_have_a_limit(extra: dict, message: str) -> None:
    """A discrepancy or shipping summed past any real order is refused when read, naming
    its list: it would otherwise fail in the policy, on every retry."""
    assert refused("refunds/create", refund_body(**extra)) == f"refund 7: {message}"
    body = order_body(line_item(1, "10.00"))
    body["refunds"] = [refund_body(**extra)]
    assert refused("orders/updated", body) == f"order 1001: refunds[0].{message}"


def test_refund_totals_up_to_the_limit_are_read() -> None:
    refund = parsed("refunds/create", refund_body(
        order_adjustments=[{"kind": "refund_discrepancy", "amount": "-999999999999.99"},
                           {"kind": "shipping_refund", "amount": "-599999999999.99"}],
        refund_shipping_lines=[{"subtotal_amount": "400000000000.00"}]))
    assert (refund.discrepancy, refund.shipping) == (D("-999999999999.99"), D("999999999999.99"))


def test_refund_currency_is_read_from_its_shop_money() -> None:
    def bagged(code: str, key: str = "currency_code") -> dict:
        return {"shop_money": {"amount": "1.00", key: code}, "presentment_money": {"amount": "9.00", "currency_code": "XXX"}}

    body = refund_body(refund_line_items=[{"line_item_id": 1, "quantity": 1, "subtotal_set": bagged("EUR")}])
    assert parsed("refunds/create", body).currency == "EUR"
    body = refund_body(refund_shipping_lines=[{"subtotal_amount_set": bagged("JPY", key="currency")}])
    assert parsed("refunds/create", body).currency == "JPY"
    body = refund_body(order_adjustments=[{"kind": "refund_discrepancy", "amount": "1.00"}])
    assert parsed("refunds/create", body).currency is None


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"refund_line_items": [{"line_item_id": 1, "quantity": 1, "subtotal_set": money_set("1.00", code="EUR"),
                                 "total_tax_set": money_set("0.10", code="USD")}]},
         "refund 7: refund_line_items[0].total_tax_set.shop_money.currency_code: 'USD' is not 'EUR', "
         "the currency of refund_line_items[0].subtotal_set.shop_money.currency_code"),
        ({"refund_line_items": [{"line_item_id": 1, "quantity": 1, "subtotal_set": money_set("1.00", code="EUR")}],
          "order_adjustments": [{"kind": "refund_discrepancy", "amount_set": money_set("-1.00", code="USD")}]},
         "refund 7: order_adjustments[0].amount_set.shop_money.currency_code: 'USD' is not 'EUR', "
         "the currency of refund_line_items[0].subtotal_set.shop_money.currency_code"),
        ({"order_adjustments": [{"kind": "shipping_refund", "amount_set": money_set("-1.00", code="CAD")}],
          "refund_shipping_lines": [{"subtotal_amount_set": money_set("1.00", code="USD")}]},
         "refund 7: refund_shipping_lines[0].subtotal_amount_set.shop_money.currency_code: 'USD' is not 'CAD', "
         "the currency of order_adjustments[0].amount_set.shop_money.currency_code"),
    ],
)
def test_a_refund_in_two_currencies_is_refused(extra: dict, message: str) -> None:
    assert refused("refunds/create", refund_body(**extra)) == message


def test_refund_order_id() -> None:
    body = load("refunds-create.json")
    del body["order_id"]
    assert refused("refunds/create", body) == "refund 890088186047892319: order_id: missing"
    assert identify("refunds/create", raw(body)) == (None, "refund:890088186047892319")


def test_pydantic_never_sees_a_float() -> None:
    """A JSON number past a float's precision is read from the exact Decimal that
    parse_json made, or refused by the bounds; never rounded through float."""
    body = load("refunds-create.json")
    line = body["refund_line_items"][0]
    del line["subtotal_set"]
    line["subtotal"] = D("123456789012345.123456")  # 21 digits: a float keeps 17
    assert parsed("refunds/create", body).lines[0].subtotal == D("123456789012345.123456")
    line["subtotal"] = D("12345678901234567890.123456789")  # as float: 12345678901234567000
    assert refused("refunds/create", body) == (
        "refund 890088186047892319: refund_line_items[0].subtotal: "
        "amount out of range: Decimal('12345678901234567890.123456789')")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b.pop("id"), "refund: id: missing"),
        (lambda b: b.update(created_at=None, processed_at=None),
         "refund 890088186047892319: created_at and processed_at both missing"),
        (lambda b: b.update(created_at=1640995200),
         "refund 890088186047892319: created_at: expected an ISO 8601 timestamp, got 1640995200"),
        (lambda b: b["refund_line_items"][0].pop("line_item_id") and b["refund_line_items"][0].pop("line_item"),
         "refund 890088186047892319: refund_line_items[0].line_item_id: missing"),
        (lambda b: b["refund_line_items"][2].update(quantity="1"),
         "refund 890088186047892319: refund_line_items[2].quantity: expected an integer, got '1'"),
        (lambda b: b["refund_line_items"][0]["subtotal_set"]["shop_money"].update(amount="1e5"),
         "refund 890088186047892319: refund_line_items[0].subtotal_set.shop_money.amount: not a decimal amount: '1e5'"),
        (lambda b: b.update(order_adjustments=[{"kind": "refund_discrepancy", "amount": "ten"}]),
         "refund 890088186047892319: order_adjustments[0].amount: not a decimal amount: 'ten'"),
        (lambda b: b.update(order_adjustments=[{"kind": "shipping_refund"}]),
         "refund 890088186047892319: order_adjustments[0]: neither amount_set.shop_money.amount nor amount present"),
        (lambda b: b.update(refund_shipping_lines=[{"id": 1}]),
         "refund 890088186047892319: refund_shipping_lines[0]: neither subtotal_amount_set.shop_money.amount "
         "nor subtotal_amount present"),
    ],
)
def test_refund_errors_name_the_field(change, message: str) -> None:
    body = load("refunds-create.json")
    change(body)
    assert refused("refunds/create", body) == message


# -- disputes --------------------------------------------------------------------------------


@pytest.mark.parametrize("topic, name", [("disputes/create", "disputes-create.json"),
                                         ("disputes/update", "disputes-update.json")])
def test_dispute_samples(topic: str, name: str) -> None:
    result = parse_delivery(topic, (FIXTURES / name).read_bytes())
    dispute = result.snapshot
    assert (dispute.dispute_id, dispute.order_id, dispute.kind, dispute.status, dispute.amount) == (
        "285332461850802063", "820982911946154508", "chargeback", "under_review", D("11.50"))
    assert dispute.occurred_at == datetime(2021, 12, 31, 19, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert dispute.zeroes_order is True
    assert result.key == dispute.key == "dispute:285332461850802063:under_review"
    assert result.order_id == "820982911946154508"


def test_rest_dispute_list() -> None:
    disputes = load("rest-disputes-list.json")["disputes"]
    assert refused("disputes/update", disputes[0]) == "dispute 1052608616: order_id: null: the dispute concerns no order"
    assert identify("disputes/update", raw(disputes[0])) == (None, "dispute:1052608616:won")
    events = [parsed("disputes/update", d) for d in disputes[1:]]
    assert [(d.kind, d.status, d.zeroes_order) for d in events[:3]] == [
        ("chargeback", "needs_response", True), ("chargeback", "won", False), ("inquiry", "needs_response", False)]


def test_dispute_time_is_finalized_on_once_set() -> None:
    body = load("disputes-update.json")
    body.update(status="WON", finalized_on="2022-02-01T10:00:00-05:00", amount=None)
    dispute = parsed("disputes/update", body)
    assert dispute.occurred_at == datetime(2022, 2, 1, 15, 0, tzinfo=timezone.utc)
    assert (dispute.status, dispute.zeroes_order, dispute.amount) == ("won", False, D(0))
    body.update(initiated_at=None, finalized_on=None)
    assert refused("disputes/update", body) == "dispute 285332461850802063: finalized_on and initiated_at both missing"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda b: b.update(amount="eleven"), "dispute 285332461850802063: amount: not a decimal amount: 'eleven'"),
        (lambda b: b.update(type=None), "dispute 285332461850802063: type: expected a non-empty string, got None"),
        (lambda b: b.update(status="  "), "dispute 285332461850802063: status: expected a non-empty string, got '  '"),
        (lambda b: b.pop("order_id"), "dispute 285332461850802063: order_id: missing"),
        (lambda b: b.update(initiated_at="2021-12-31"),
         "dispute 285332461850802063: initiated_at: timestamp has no UTC offset: '2021-12-31'"),
    ],
)
def test_dispute_errors(change, message: str) -> None:
    body = load("disputes-create.json")
    change(body)
    assert refused("disputes/create", body) == message


# -- order edits -----------------------------------------------------------------------------


def test_orders_edited_sample() -> None:
    result = parse_delivery("orders/edited", (FIXTURES / "orders-edited.json").read_bytes())
    assert (result.kind, result.order_id, result.key) == (TopicKind.EDIT, "820982911946154508", "edit:78912328793123782")
    assert result.snapshot == EditSnapshot(
        edit_id="78912328793123782", order_id="820982911946154508",
        added=(("78643924236718232", 1),), removed=(("487817672276298554", 1),),
        occurred_at=datetime(2022, 1, 1, 0, 0, tzinfo=timezone.utc),
    )


def test_edit_deltas_and_created_at_fallback() -> None:
    edit = parsed("orders/edited", {"order_edit": {
        "id": 5, "order_id": 1001, "committed_at": None, "created_at": "2026-11-03T10:00:00Z",
        "line_items": {"additions": [{"id": 2, "delta": 1}, {"id": 3, "delta": 2}], "removals": None}}})
    assert (edit.added, edit.removed) == ((("2", 1), ("3", 2)), ())
    assert edit.occurred_at == datetime(2026, 11, 3, 10, 0, tzinfo=timezone.utc)
    bare = parsed("orders/edited", {"order_edit": {"id": 5, "order_id": 1001, "created_at": "2026-11-03T10:00:00Z"}})
    assert (bare.added, bare.removed) == ((), ())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e: e["line_items"]["additions"][0].update(delta=0),
         "edit 78912328793123782: order_edit.line_items.additions[0].delta: must be at least 1, got 0"),
        (lambda e: e["line_items"]["removals"][0].pop("id"),
         "edit 78912328793123782: order_edit.line_items.removals[0].id: missing"),
        (lambda e: e.pop("order_id"), "edit 78912328793123782: order_edit.order_id: missing"),
        (lambda e: e.update(committed_at=None, created_at=None),
         "edit 78912328793123782: order_edit: committed_at and created_at both missing"),
        (lambda e: e.update(line_items=[]), "edit 78912328793123782: order_edit.line_items: expected an object, got list"),
    ],
)
def test_edit_errors(change, message: str) -> None:
    body = load("orders-edited.json")
    change(body["order_edit"])
    assert refused("orders/edited", body) == message


def test_edit_body_must_be_wrapped() -> None:
    assert refused("orders/edited", {"id": 1}) == "edit: order_edit: missing"
    assert refused("orders/edited", {"order_edit": None}) == "edit: order_edit: expected an object, got null"


# -- returns ---------------------------------------------------------------------------------


def test_returns_approve_sample_is_thin() -> None:
    result = parse_delivery("returns/approve", (FIXTURES / "returns-approve.json").read_bytes())
    ret = result.snapshot
    assert (result.order_id, result.key) == ("4783296544821", "return:123134564567890")
    assert (ret.return_id, ret.order_id, ret.status) == ("123134564567890", "4783296544821", "open")
    assert ret.returned == () and ret.exchanged == ()
    assert ret.complete is False  # total_return_line_items 2, none listed; exchange line_item null
    assert ret.occurred_at is None


@pytest.mark.parametrize(
    "topic, name, order_id, status",
    [("returns/request", "returns-request.json", "4783296544821", "requested"),
     ("returns/close", "returns-close.json", "4783296544821", "closed"),
     ("returns/cancel", "returns-cancel.json", "4783296544821", "canceled"),
     ("returns/decline", "returns-decline.json", "4783296544821", "declined"),
     ("returns/reopen", "returns-reopen.json", "4783296544821", "open"),
     ("returns/update", "returns-update.json", None, None)],
)
def test_return_samples_parse_and_are_incomplete(topic: str, name: str, order_id: str | None, status: str | None) -> None:
    ret = parsed(topic, load(name))
    assert (ret.return_id, ret.order_id, ret.status) == ("123134564567890", order_id, status)
    assert ret.complete is False  # every webhook sample leaves the lines out one way or another
    assert ret.returned == () and ret.exchanged == ()


def full_return(**extra: Any) -> dict:
    body = {
        "id": 900, "status": "CLOSED", "order": {"id": 1001},
        "total_return_line_items": 3, "total_exchange_line_items": 1,
        "return_line_items": [
            {"id": 1, "quantity": 1, "fulfillment_line_item": {"id": 71, "line_item": {"id": 1}}},
            {"id": 2, "quantity": 1, "line_item": {"id": 2}},
            {"id": 4, "quantity": 2, "line_item_id": 4},
        ],
        "exchange_line_items": [{"id": 3, "line_item": {"id": 3, "quantity": 1}}],
    }
    body.update(extra)
    return body


def test_a_full_return_is_complete() -> None:
    ret = parsed("returns/process", full_return(processed_at="2026-11-09T00:00:00Z"))
    assert ret == ReturnSnapshot(
        return_id="900", order_id="1001", status="closed", returned=(("1", 1), ("2", 1), ("4", 2)),
        exchanged=(("3", 1),), complete=True, occurred_at=datetime(2026, 11, 9, tzinfo=timezone.utc))


def test_return_without_exchange_lines() -> None:
    ret = parsed("returns/close", full_return(exchange_line_items=[], total_exchange_line_items=0))
    assert ret.complete is True and ret.exchanged == ()


@pytest.mark.parametrize(
    "extra",
    [
        {"total_return_line_items": 4},  # more counted than listed
        {"total_exchange_line_items": 2},
        {"exchange_line_items": [{"id": 3, "line_item": None}]},  # the exchange line is not made yet
        {"exchange_line_items": None},  # a list given as null is not listed
        {"return_line_items": {"removals": [{"admin_graphql_api_id": "gid://shopify/ReturnLineItem/9", "delta": 1}]}},
    ],
)
def test_thin_returns_are_incomplete(extra: dict) -> None:
    assert parsed("returns/approve", full_return(**extra)).complete is False


def test_a_return_without_its_lists_is_incomplete() -> None:
    body = full_return()
    del body["exchange_line_items"]
    assert parsed("returns/approve", body).complete is False


def test_exchange_quantity_from_the_exchange_line_or_its_line_item() -> None:
    ret = parsed("returns/approve", full_return(exchange_line_items=[
        {"id": 3, "quantity": 2, "line_item": {"id": 3, "quantity": 5}}, {"id": 5, "line_item": {"id": 5, "quantity": 1}}],
        total_exchange_line_items=2))
    assert ret.exchanged == (("3", 2), ("5", 1))
    assert refused("returns/approve", full_return(exchange_line_items=[{"id": 3, "line_item": {"id": 3}}])) == (
        "return 900: exchange_line_items[0].quantity: missing")


def test_return_ids_and_order() -> None:
    ret = parsed("returns/update", {"admin_graphql_api_id": "gid://shopify/Return/77", "order_id": 5,
                                    "updated_at": "2026-11-09T00:00:00Z"})
    assert (ret.return_id, ret.order_id, ret.occurred_at) == ("77", "5", datetime(2026, 11, 9, tzinfo=timezone.utc))
    ret = parsed("returns/close", {"id": 78, "order": {"id": 6}, "order_id": 5})
    assert ret.order_id == "6"  # order.id first, then order_id


@pytest.mark.parametrize(
    "body, message",
    [
        (full_return(return_line_items=[{"id": 1, "quantity": 1}]),
         "return 900: return_line_items[0]: no line_item, line_item_id or fulfillment_line_item.line_item"),
        (full_return(return_line_items=[{"id": 1, "quantity": 0, "line_item_id": 1}]),
         "return 900: return_line_items[0].quantity: must be at least 1, got 0"),
        (full_return(return_line_items="all"), "return 900: return_line_items: expected an array, got str"),
        (full_return(total_return_line_items=-1), "return 900: total_return_line_items: must be at least 0, got -1"),
        ({"status": "open"}, "return: id and admin_graphql_api_id both missing"),
        (full_return(order={"id": "x"}), "return 900: order.id: not a Shopify id: 'x'"),
    ],
)
def test_return_errors(body: dict, message: str) -> None:
    assert refused("returns/approve", body) == message


# -- app and compliance topics ---------------------------------------------------------------


def test_app_uninstalled() -> None:
    result = parse_delivery("app/uninstalled", (FIXTURES / "app-uninstalled.json").read_bytes())
    assert result == Parsed("app/uninstalled", TopicKind.APP_UNINSTALLED, None, None, ShopSnapshot(domain=None, currency="USD"))
    body = load("app-uninstalled.json")
    body["myshopify_domain"] = "demo.myshopify.com"
    assert parsed("app/uninstalled", body) == ShopSnapshot(domain="demo.myshopify.com", currency="USD")


def test_scopes_update() -> None:
    result = parse_delivery("app/scopes_update", raw({
        "id": 1, "shop_id": "gid://shopify/Shop/548380009", "previous": ["read_products"],
        "current": ["read_products", "write_products"], "updated_at": "2026-07-24T16:30:00.000Z"}))
    assert (result.kind, result.order_id, result.key) == (TopicKind.SCOPES_UPDATE, None, None)
    assert result.snapshot == ScopesUpdate(previous=("read_products",), current=("read_products", "write_products"))
    assert refused("app/scopes_update", {"previous": [""], "current": []}) == (
        "app/scopes_update: previous[0]: expected a non-empty string, got ''")


def test_compliance_samples() -> None:
    assert parsed("customers/data_request", load("customers-data_request.json")) == DataRequest(
        shop_domain="{shop}.myshopify.com", customer_id="191167", order_ids=("299938", "280263", "220458"))
    assert parsed("customers/redact", load("customers-redact.json")) == CustomerRedact(
        shop_domain="{shop}.myshopify.com", customer_id="191167", order_ids=("299938", "280263", "220458"))
    assert parsed("shop/redact", load("shop-redact.json")) == ShopRedact(shop_domain="{shop}.myshopify.com")
    for topic, name in [("customers/redact", "customers-redact.json"), ("shop/redact", "shop-redact.json")]:
        result = parse_delivery(topic, (FIXTURES / name).read_bytes())
        assert (result.order_id, result.key) == (None, None)


def test_compliance_errors() -> None:
    assert refused("customers/redact", {"shop_domain": "a.myshopify.com", "orders_to_redact": [1, "x"]}) == (
        "customers/redact: orders_to_redact[1]: not a Shopify id: 'x'")
    assert refused("shop/redact", {"shop_id": 1}) == "shop/redact: shop_domain: missing"
    assert parsed("customers/redact", {"shop_domain": "a.myshopify.com", "customer": None}) == CustomerRedact(
        "a.myshopify.com", None, ())


# -- order id and business key ---------------------------------------------------------------


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
        ("app/uninstalled", "app-uninstalled.json", None, None),
        ("customers/data_request", "customers-data_request.json", None, None),
        ("customers/redact", "customers-redact.json", None, None),
        ("shop/redact", "shop-redact.json", None, None),
    ],
)
def test_order_id_and_business_key(topic: str, name: str, order_id: str | None, key: str | None) -> None:
    body = (FIXTURES / name).read_bytes()
    result = parse_delivery(topic, body)
    assert (result.order_id, result.key) == (order_id, key)
    assert identify(topic, body) == (order_id, key)  # the lenient reader agrees on valid bodies


@pytest.mark.parametrize(
    "topic, body, expected",
    [
        ("orders/create", {"id": "gid://shopify/Order/5", "line_items": "broken"}, ("5", "order:5")),
        ("refunds/create", {"id": 9, "order_id": 5, "refund_line_items": [{"quantity": True}]}, ("5", "refund:9")),
        ("refunds/create", {"id": "nine", "order_id": 5}, ("5", None)),
        ("disputes/update", {"id": 3, "order_id": 5, "status": " Won "}, ("5", "dispute:3:won")),
        ("disputes/update", {"id": 3, "order_id": 5, "status": 7}, ("5", None)),
        ("orders/edited", {"order_edit": {"id": 4, "order_id": 5, "line_items": 1}}, ("5", "edit:4")),
        ("orders/edited", {"order_edit": [1]}, (None, None)),
        ("returns/close", {"admin_graphql_api_id": "gid://shopify/Return/8", "order": {"id": 5},
                           "total_return_line_items": -1}, ("5", "return:8")),
        ("returns/close", {"id": 8, "order": "5", "order_id": 6}, ("6", "return:8")),
        ("returns/close", {"id": 8, "order": {"id": 2**63}}, (None, "return:8")),
        ("orders/create", {"id": [], "order": {}}, (None, None)),
        ("customers/redact", {"orders_to_redact": [1]}, (None, None)),
    ],
)
def test_identify_reads_ids_of_a_broken_body(topic: str, body: dict, expected: tuple) -> None:
    with pytest.raises(PayloadError):
        parse_delivery(topic, raw(body))
    assert identify(topic, raw(body)) == expected


@pytest.mark.parametrize("body", [b"", b"\xff", b"[1]", b'{"id": NaN}', b"[" * 100_000, b'{"a": "\\u0000"}'])
def test_identify_never_raises(body: bytes) -> None:
    assert identify("orders/create", body) == (None, None)


def test_refusals_name_the_resource_when_its_id_is_readable() -> None:
    assert refused("orders/create", {"id": 5}) == "order 5: currency: missing (and 2 more)"
    assert refused("orders/create", {"name": "#1"}) == "order: id: missing (and 3 more)"
    assert refused("refunds/create", {"id": 1}) == "refund 1: order_id: missing"
    assert refused("returns/close", {"id": 8, "status": 5, "order": []}) == "return 8: order: expected an object, got list"


def test_values_in_messages_are_bounded() -> None:
    huge = "x" * 5_000_000
    message = refused("orders/create", order_body(line_item(1, huge, price_set=None)))
    assert message == "order 1001: line_items[0].price: not a decimal amount: '" + "x" * 76 + "..."
    message = refused("orders/create", order_body(line_item(1, {"note": "x" * 100_000}, price_set=None)))
    assert message == "order 1001: line_items[0].price: not a money value: {'note': '" + "x" * 47 + "..."
    message = refused("orders/create", order_body(line_item(1, ["x" * 100_000], price_set=None)))
    assert message == "order 1001: line_items[0].price: not a money value: ['" + "x" * 55 + "..."
