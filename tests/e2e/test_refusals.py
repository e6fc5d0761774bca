"""Every bad input the hostile-input probe found, refused: each test asserts the refusal (an
HTTP status, a failed or conflicting delivery with its reason) AND that nothing was stored
or changed beyond it. Signed webhooks in through the Flask app, the worker in process, results
read from the inbox rows and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from shopify_app import worker
from shopify_app.dev import samples as payloads
from shopify_app.store.tables import Shop, WebhookDelivery
from tests.e2e.test_worker_e2e import FIXTURES, REDACTED, by_topic, clock, now, shop  # noqa: F401  (fixtures)
from tests.support.cli import iso
from tests.support.signing import SHOP, body_bytes, post_webhook, signed_headers

OTHER = "other-shop.myshopify.com"


def sold(shop, now, order_id: int = 1, currency: str = "USD") -> list[dict]:
    shop.post("orders/paid", payloads.order(order_id, [(order_id * 10 + 1, "100.00", 1)], code="ANNA", currency=currency,
                                            created_at=iso(now)))
    shop.work()
    return shop.records(order_id)


# -- refunds that contradict their order ----------------------------------------------------------


def test_a_refund_in_another_currency_than_its_order_fails_at_once_and_writes_nothing(shop, now) -> None:
    before = sold(shop, now, currency="USD")
    shop.post("refunds/create", payloads.refund(71, 1, [(11, 1, "50.00")], currency="EUR", created_at=iso(now)))
    assert shop.work().statuses == {"failed": 1}
    [refund] = by_topic(shop, "refunds/create")
    assert (refund.status, refund.attempts, refund.order_id, refund.business_key) == ("failed", 1, "1", "refund:71")
    assert refund.last_error == "refund:71 refused: its amounts are in EUR but order #1 was sold in USD"
    assert shop.records(1) == before
    [item] = shop.cli.inbox()["attention"]
    assert (item["status"], item["why"]) == ("failed", refund.last_error)


def test_a_refund_of_a_line_not_on_the_order_is_retried_then_failed_visibly(shop, clock, now) -> None:
    """Not failed at once: an exchange adding that line may be late. Never silently done."""
    before = sold(shop, now)
    shop.post("refunds/create", payloads.refund(72, 1, [(99, 1, "50.00")], created_at=iso(now)))
    assert shop.work(clock=clock).statuses == {"received": 1}
    [refund] = by_topic(shop, "refunds/create")
    reason = "refund:72 refused: line 99 is not on order #1"
    assert (refund.status, refund.attempts, refund.last_error) == ("received", 1, reason)
    [item] = shop.cli.inbox()["attention"]  # visible while it retries
    assert (item["status"], item["why"]) == ("received", f"retrying (attempt 1 failed): {reason}")
    for wait in (5, 10):
        clock.advance(seconds=wait)
        shop.work(clock=clock)
    [refund] = by_topic(shop, "refunds/create")
    assert (refund.status, refund.attempts, refund.last_error) == ("failed", 3, reason)
    assert shop.records(1) == before


def test_a_parked_refund_that_contradicts_the_sale_fails_when_the_sale_arrives(shop, now) -> None:
    shop.post("refunds/create", payloads.refund(73, 5, [(51, 1, "10.00")], currency="EUR", created_at=iso(now)))
    shop.post("refunds/create", payloads.refund(74, 5, [(51, 1, "40.00")], created_at=iso(now)))
    assert shop.work().statuses == {"parked": 2}
    shop.post("orders/paid", payloads.order(5, [(51, "100.00", 1)], code="ANNA", created_at=iso(now)))
    shop.work()
    statuses = {d.business_key: (d.status, d.last_error) for d in shop.deliveries()}
    assert statuses["refund:73"] == ("failed", "refund:73 refused: its amounts are in EUR but order #5 was sold in USD")
    assert statuses["refund:74"] == ("done", None)
    assert [(r["kind"], r["amount"], r["source"]) for r in shop.records(5)] == [("commission", "20.00", "order:5"),
                                                                               ("refund", "-8.00", "refund:74")]


# -- payloads ---------------------------------------------------------------------------------


def test_customers_redact_with_a_malformed_order_list_fails_at_once_naming_the_field(shop, now) -> None:
    sold(shop, now)
    kept = by_topic(shop, "orders/paid")[0].body
    body = json.loads((FIXTURES / "customers-redact.json").read_text())
    body.update(shop_domain=SHOP, orders_to_redact=[1, "not-an-id"])
    shop.post("customers/redact", body)
    assert shop.work().statuses == {"failed": 1}
    [request] = by_topic(shop, "customers/redact")
    assert (request.status, request.attempts) == ("failed", 1)
    assert request.last_error == "payload: customers/redact: orders_to_redact[1]: not a Shopify id: 'not-an-id'"
    assert by_topic(shop, "orders/paid")[0].body == kept  # nothing redacted on a request we could not read


def test_ids_beyond_64_bits_fail_at_once_by_one_rule_whatever_their_json_type(shop, now) -> None:
    for order_id in (2**63, str(2**63), "9" * 31, 2**63 - 1):
        shop.post("orders/paid", payloads.order(1, [(11, "100.00", 1)], code="ANNA", created_at=iso(now)) | {"id": order_id})
    assert shop.work().statuses == {"failed": 3, "done": 1}
    as_int, as_string, long_string, largest = shop.deliveries()
    assert as_int.last_error == "payload: order: id: Shopify id out of range 1..2**63-1: 9223372036854775808"
    assert as_string.last_error == "payload: order: id: Shopify id out of range 1..2**63-1: '9223372036854775808'"
    assert long_string.last_error.startswith("payload: order: id: not a Shopify id: ")  # more digits than any 64-bit id
    assert largest.status == "done" and [r["order_id"] for r in shop.records()] == [str(2**63 - 1)]


def test_a_privacy_request_naming_another_shop_changes_nothing(shop, now) -> None:
    sold(shop, now)
    kept = by_topic(shop, "orders/paid")[0].body
    shop.post("shop/redact", {"shop_id": 1, "shop_domain": OTHER})
    assert shop.work().statuses == {"failed": 1}
    [request] = by_topic(shop, "shop/redact")
    assert request.last_error == f"shop/redact names shop {OTHER} but was delivered for {SHOP}"
    assert by_topic(shop, "orders/paid")[0].body == kept


def test_customers_redact_reaches_a_body_held_for_review(shop, now) -> None:
    shop.cli("settings", "set", "--shop", SHOP, "amount_only_refunds=review")
    sold(shop, now, order_id=8)
    shop.post("refunds/create", payloads.refund(81, 8, [], discrepancy="-30.00", created_at=iso(now)))
    shop.work()
    [held] = by_topic(shop, "refunds/create")
    assert held.status == "review" and held.body != REDACTED
    body = json.loads((FIXTURES / "customers-redact.json").read_text())
    body.update(shop_domain=SHOP, orders_to_redact=[8])
    shop.post("customers/redact", body)
    shop.work()
    assert [d.body for d in shop.deliveries() if d.order_id == "8"] == [REDACTED, REDACTED]


def test_customers_redact_waits_for_a_delivery_of_the_order_still_to_process(shop, clock, now) -> None:
    sold(shop, now, order_id=9)
    body = json.loads((FIXTURES / "customers-redact.json").read_text())
    body.update(shop_domain=SHOP, orders_to_redact=[9])
    shop.post("customers/redact", body)
    shop.post("refunds/create", payloads.refund(91, 9, [(91, 1, "10.00")], created_at=iso(now)))
    with shop.database.transaction() as session:  # a refund of order 9 is stored but not due yet
        session.execute(update(WebhookDelivery).where(WebhookDelivery.topic == "refunds/create")
                        .values(next_attempt_at=clock.now + timedelta(hours=1), order_id="9"))
    assert shop.work(clock=clock).statuses == {"received": 1}  # the request waits; the refund is not due
    [request] = by_topic(shop, "customers/redact")
    assert request.last_error.startswith("customers/redact waits: a delivery of order(s) 9 is not processed yet")
    assert by_topic(shop, "orders/paid")[0].body != REDACTED
    clock.advance(hours=2)
    shop.work(clock=clock)  # the refund is processed; the request retries after it
    clock.advance(hours=1)
    shop.work(clock=clock)
    assert by_topic(shop, "customers/redact")[0].status == "done"
    assert [(d.topic, d.status, d.body) for d in shop.deliveries() if d.order_id == "9"] == [
        ("orders/paid", "done", REDACTED), ("refunds/create", "done", REDACTED)]


# -- one shop's bad data never stops another's ------------------------------------------------------


@pytest.mark.timeout(60)
def test_one_shops_unreadable_settings_never_stop_another_shops_deliveries(shop, now) -> None:
    """A rate stored by an older version before rates were bounded would make every policy
    computation of that shop explode; it must fail that shop's work visibly, and only it."""
    shop.cli("shop", "add", OTHER)
    shop.cli("affiliate", "add", "--shop", OTHER, "--code", "ANNA", "--email", "anna@example.com", "--rate", "10")
    with shop.database.transaction() as session:
        row = session.scalars(select(Shop).where(Shop.domain == SHOP)).one()
        stored = json.loads(row.settings_json)
        stored["default_rate_percent"] = "1E-999999999"
        session.execute(update(Shop).where(Shop.id == row.id).values(settings_json=json.dumps(stored)))
    shop.post("orders/paid", payloads.order(1, [(11, "100.00", 1)], code="ANNA", created_at=iso(now)))
    shop.post("orders/paid", payloads.order(2, [(21, "100.00", 1)], code="ANNA", created_at=iso(now)), shop=OTHER)
    report = shop.work()
    assert report.statuses == {"received": 1, "done": 1}
    bad, good = shop.deliveries()
    assert (bad.shop_domain, bad.status, good.shop_domain, good.status) == (SHOP, "received", OTHER, "done")
    assert "default_rate_percent must be a number" in bad.last_error
    assert [r["amount"] for r in shop.cli.export(OTHER)] == ["10.00"]
    assert shop.cli.export(SHOP) == []
    # The periodic jobs (approvals, risk flags) skip the broken shop and serve the other.
    assert worker.periodic_jobs(shop.database, now + timedelta(days=31)) == 1
    assert [r["status"] for r in shop.cli.export(OTHER)] == ["approved"]


# -- the intake -------------------------------------------------------------------------------------


def _stored(database) -> list[tuple]:
    with database.reading() as session:
        return [(d.webhook_id, d.shop_domain, d.status, d.body) for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]


@pytest.mark.parametrize("header", ["demo.myshopify.com/admin", "https://demo.myshopify.com", "demo", "DEMO.myshopify.com.", "x" * 300])
def test_a_shop_domain_header_that_needs_rewriting_is_400_and_not_stored(client, database, header) -> None:
    body = body_bytes({"id": 1})
    response = client.post("/webhooks", data=body, headers=signed_headers(body, "orders/paid", shop=header))
    assert response.status_code == 400 and b"X-Shopify-Shop-Domain" in response.data
    assert _stored(database) == []


def test_a_reused_webhook_id_with_other_content_is_kept_as_a_conflict_never_applied(client, database) -> None:
    first, other_body = {"id": 1, "n": 1}, {"id": 1, "n": 2}
    assert post_webhook(client, "orders/paid", first, webhook_id="wh-1").status_code == 200
    assert post_webhook(client, "orders/paid", first, webhook_id="wh-1").status_code == 200  # a true retry
    assert post_webhook(client, "orders/paid", other_body, webhook_id="wh-1").status_code == 200
    assert post_webhook(client, "orders/paid", first, webhook_id="wh-1", shop=OTHER).status_code == 200
    assert post_webhook(client, "orders/paid", other_body, webhook_id="wh-1").status_code == 200  # a retry of the conflicting copy
    rows = _stored(database)
    assert [(r[1], r[2], r[3]) for r in rows] == [
        (SHOP, "received", body_bytes(first)), (SHOP, "conflict", body_bytes(other_body)), (OTHER, "conflict", body_bytes(first))]
    assert rows[1][0].startswith("wh-1#") and rows[2][0].startswith("wh-1#") and rows[1][0] != rows[2][0]
    with database.reading() as session:
        notes = [d.last_error for d in session.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "conflict").order_by(WebhookDelivery.id))]
    assert notes == ["webhook id wh-1 was first received with other content (other body); this copy is kept and not applied",
                     "webhook id wh-1 was first received with other content (other shop); this copy is kept and not applied"]
