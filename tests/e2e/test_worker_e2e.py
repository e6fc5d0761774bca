"""The worker end to end, on SQLite and PostgreSQL: poison deliveries, retries with backoff
on a fake clock, parked events needing attention, order edits waiting for priced lines,
uninstall and privacy webhooks. Deliveries enter as signed webhooks through the Flask app;
outcomes are read from the inbox rows, the shop row and the ``clawback`` CLI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from shopify_app.dev import samples as payloads
from shopify_app.store.crypto import TokenCipher
from shopify_app.store.tables import Shop, WebhookDelivery
from tests.e2e.conftest import make_config
from tests.support.cli import Cli, Scenario, iso
from tests.support.signing import SHOP

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
ANNA = "anna@affiliates.example"
REDACTED = b'{"redacted": true}'


@dataclass
class Clock:
    """A clock the test moves by hand (``worker.run(clock=...)``)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def clock(now) -> Clock:
    # An hour ahead of the wall clock, so every delivery the test posts is already due.
    return Clock(now + timedelta(hours=1))


@pytest.fixture
def shop(client, database, tmp_path, monkeypatch):
    cli = Cli(database.url, tmp_path / "instance", monkeypatch, reuse_engine=True)
    cli("shop", "add", SHOP)
    cli("affiliate", "add", "--shop", SHOP, "--code", "ANNA", "--email", ANNA, "--rate", "20")
    yield Scenario(client, cli, database, make_config(database.url, worker_max_attempts=3), SHOP)
    cli.close()


def shop_row(shop: Scenario, domain: str = SHOP) -> Shop:
    with shop.database.transaction() as session:
        return session.scalars(select(Shop).where(Shop.domain == domain)).one()


def by_topic(shop: Scenario, topic: str) -> list[WebhookDelivery]:
    return [d for d in shop.deliveries() if d.topic == topic]


# -- poison deliveries -------------------------------------------------------------------------


def test_delivery_for_an_unknown_shop_fails_at_once_and_does_not_block_the_rest(shop, now) -> None:
    shop.post("orders/paid", payloads.order(1, [(11, "100.00", 1)], code="ANNA", created_at=iso(now)), shop="nobody.myshopify.com")
    shop.post("orders/paid", payloads.order(2, [(21, "100.00", 1)], code="ANNA", created_at=iso(now)))
    report = shop.work()
    assert (report.tried, report.statuses) == (2, {"failed": 1, "done": 1})
    poison, good = shop.deliveries()
    assert (poison.status, poison.attempts, poison.shop_domain) == ("failed", 1, "nobody.myshopify.com")
    assert poison.last_error == "no shop nobody.myshopify.com is installed"
    assert poison.processed_at is not None
    assert good.status == "done"
    assert [(r["order_id"], r["amount"]) for r in shop.records()] == [("2", "20.00")]

    [item] = shop.cli.inbox()["attention"]
    assert (item["id"], item["shop"], item["status"], item["why"]) == (str(poison.id), "nobody.myshopify.com", "failed", poison.last_error)
    assert shop.work().tried == 0  # failed is final: never tried again


def test_unexpected_error_is_retried_with_backoff_then_kept_as_failed(shop, clock, now, monkeypatch) -> None:
    shop.post("orders/paid", payloads.order(1, [(11, "100.00", 1)], code="ANNA", created_at=iso(now)))
    shop.work(clock=clock)
    from shopify_app.services import orders

    real_apply = orders.apply

    def exploding(facts, event, records, settings, when):
        if event.key.startswith("refund:"):
            raise RuntimeError("ledger exploded")
        return real_apply(facts, event, records, settings, when)

    monkeypatch.setattr(orders, "apply", exploding)
    shop.post("refunds/create", payloads.refund(91, 1, [(11, 1, "100.00")], created_at=iso(now)))

    started = clock.now
    report = shop.work(clock=clock)  # returns although a retry is now scheduled for later
    assert (report.tried, report.statuses) == (1, {"received": 1})
    [refund] = by_topic(shop, "refunds/create")
    assert (refund.status, refund.attempts, refund.last_error) == ("received", 1, "RuntimeError: ledger exploded")
    assert refund.next_attempt_at == started + timedelta(seconds=5)
    assert refund.processed_at is None

    assert shop.work(clock=clock).tried == 0  # not due yet
    clock.advance(seconds=4)
    assert shop.work(clock=clock).tried == 0
    clock.advance(seconds=1)
    assert shop.work(clock=clock).statuses == {"received": 1}
    [refund] = by_topic(shop, "refunds/create")
    assert (refund.status, refund.attempts) == ("received", 2)
    assert refund.next_attempt_at == clock.now + timedelta(seconds=10)  # 5 s doubling

    clock.advance(seconds=10)
    assert shop.work(clock=clock).statuses == {"failed": 1}  # worker_max_attempts = 3
    [refund] = by_topic(shop, "refunds/create")
    assert (refund.status, refund.attempts, refund.processed_at) == ("failed", 3, clock.now)
    assert refund.last_error == "RuntimeError: ledger exploded"
    clock.advance(hours=2)
    assert shop.work(clock=clock).tried == 0
    assert [r["kind"] for r in shop.records()] == ["commission"]  # nothing of the refund applied
    [item] = shop.cli.inbox()["attention"]
    assert (item["status"], item["topic"], item["why"]) == ("failed", "refunds/create", "RuntimeError: ledger exploded")


def test_worker_max_attempts_comes_from_the_config(shop, clock, now, monkeypatch) -> None:
    monkeypatch.setattr("shopify_app.services.orders.apply", lambda *a: (_ for _ in ()).throw(RuntimeError("down")))
    shop.post("orders/paid", payloads.order(1, [(11, "100.00", 1)], code="ANNA", created_at=iso(now)))
    shop.config = make_config(shop.database.url, worker_max_attempts=1)
    assert shop.work(clock=clock).statuses == {"failed": 1}
    [row] = shop.deliveries()
    assert (row.status, row.attempts) == ("failed", 1)


def test_amount_beyond_the_ledger_range_fails_at_once(shop, clock, now) -> None:
    # 9 999 999 999 999 999 x 1000 passes translate's bounds (< 10**16, quantity <= 10**6)
    # but is 10**21 minor units: more than a BIGINT holds. No retry can ever store it.
    shop.post("orders/paid", payloads.order(1, [(11, "9999999999999999", 1000)], code="ANNA", created_at=iso(now)))
    shop.work(clock=clock)
    [row] = shop.deliveries()
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.startswith("payload:")


# -- parked events -------------------------------------------------------------------------------


def test_parked_event_needs_attention_once_older_than_parked_attention_hours(shop, now) -> None:
    shop.post("refunds/create", payloads.refund(92, 555, [(5551, 1, "10.00")], created_at=iso(now)))
    report = shop.work()  # until_idle: a parked event does not keep the worker running
    assert report.statuses == {"parked": 1}
    assert shop.work().tried == 0
    [row] = shop.deliveries()
    assert (row.status, row.order_id) == ("parked", "555")
    assert shop.cli.inbox() == {"counts": {"parked": 1}, "attention": []}

    def received(hours_ago: float) -> None:
        with shop.database.transaction() as session:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row.id)
                            .values(received_at=datetime.now(timezone.utc) - timedelta(hours=hours_ago)))

    received(23)
    assert shop.cli.inbox()["attention"] == []
    received(25)
    [item] = shop.cli.inbox()["attention"]
    assert {k: item[k] for k in ("id", "shop", "topic", "status", "order_id")} == {
        "id": str(row.id), "shop": SHOP, "topic": "refunds/create", "status": "parked", "order_id": "555"}
    assert item["why"].startswith("parked since ") and item["why"].endswith("waiting for order 555 to arrive paid")

    # The order finally arrives: the parked refund is applied and no longer needs attention.
    shop.post("orders/paid", payloads.order(555, [(5551, "10.00", 1)], code="ANNA", created_at=iso(now)))
    shop.work()
    assert [(r["kind"], r["amount"]) for r in shop.records(555)] == [("commission", "2.00"), ("refund", "-2.00")]
    assert shop.cli.inbox() == {"counts": {"done": 2}, "attention": []}


# -- order edits ---------------------------------------------------------------------------------


def _edit(edit_id: int, order_id: int, added_line: int, when: datetime) -> dict:
    body = json.loads((FIXTURES / "orders-edited.json").read_text())
    body["order_edit"].update(id=edit_id, order_id=order_id, created_at=iso(when), committed_at=iso(when))
    body["order_edit"]["line_items"] = {"additions": [{"id": added_line, "delta": 1}], "removals": []}
    return body


def test_order_edit_waits_for_priced_lines_then_applies_an_upgrade(shop, clock, now) -> None:
    order = payloads.order(3, [(31, "100.00", 1)], code="ANNA", created_at=iso(now))
    shop.post("orders/paid", order)
    shop.post("orders/edited", _edit(77, 3, 32, now))
    assert shop.work(clock=clock).statuses == {"done": 1, "received": 1}
    [edit] = by_topic(shop, "orders/edited")
    assert (edit.status, edit.attempts) == ("received", 1)
    assert edit.last_error == "edit 77: line 32 is not on order 3 yet"
    assert edit.next_attempt_at == clock.now + timedelta(seconds=5)

    # orders/updated prices the added line (and is not a second sale).
    updated = payloads.order(3, [(31, "100.00", 1), (32, "50.00", 1)], code="ANNA", created_at=iso(now))
    shop.post("orders/updated", updated)
    assert shop.work(clock=clock).statuses == {"ignored": 1}  # the edit is not due again yet
    clock.advance(seconds=5)
    assert shop.work(clock=clock).statuses == {"done": 1}

    commission, upgrade = shop.records(3)
    assert (commission["line_item_id"], commission["amount"]) == ("31", "20.00")
    assert (upgrade["line_item_id"], upgrade["kind"], upgrade["amount"], upgrade["base"], upgrade["status"]) == (
        "31", "exchange", "10.00", "50.00", "pending")
    assert (upgrade["pairs_with"], upgrade["source"], upgrade["clawback"]) == (commission["id"], "edit:77", False)
    assert [d.status for d in shop.deliveries()] == ["done", "done", "ignored"]


def test_order_edit_whose_lines_never_get_priced_fails_after_max_attempts(shop, clock, now) -> None:
    shop.post("orders/paid", payloads.order(4, [(41, "100.00", 1)], code="ANNA", created_at=iso(now)))
    shop.post("orders/edited", _edit(78, 4, 42, now))
    for wait in (0, 5, 10):
        clock.advance(seconds=wait)
        shop.work(clock=clock)
    [edit] = by_topic(shop, "orders/edited")
    assert (edit.status, edit.attempts) == ("failed", 3)
    assert [r["kind"] for r in shop.records(4)] == ["commission"]


# -- app and privacy webhooks ------------------------------------------------------------------------


def test_app_uninstalled_drops_the_access_token(shop) -> None:
    key = Fernet.generate_key().decode()
    shop.cli("shop", "add", SHOP, "--token", "shpat_secret", CLAWBACK_ENCRYPTION_KEY=key)
    stored = shop_row(shop).access_token_encrypted
    assert stored and "shpat_secret" not in stored
    assert TokenCipher(key.encode()).decrypt(stored) == "shpat_secret"

    shop.post("app/uninstalled", json.loads((FIXTURES / "app-uninstalled.json").read_text()))
    shop.work()
    row = shop_row(shop)
    assert row.access_token_encrypted is None
    assert row.uninstalled_at is not None
    [delivery] = by_topic(shop, "app/uninstalled")
    assert delivery.status in {"done", "ignored"}

    shop.cli("shop", "add", SHOP)  # registering again reinstalls
    assert shop_row(shop).uninstalled_at is None


def _redact_body(orders: list[int]) -> dict:
    body = json.loads((FIXTURES / "customers-redact.json").read_text())
    body.update(shop_domain=SHOP, orders_to_redact=orders)
    return body


def test_customers_redact_replaces_bodies_of_the_named_orders_and_keeps_the_ledger(shop, now) -> None:
    shop.post("orders/paid", payloads.order(101, [(1011, "100.00", 1)], code="ANNA", email="john@example.com", created_at=iso(now)))
    shop.post("refunds/create", payloads.refund(9101, 101, [(1011, 1, "40.00")], created_at=iso(now)))
    shop.post("orders/paid", payloads.order(102, [(1021, "100.00", 1)], code="ANNA", created_at=iso(now)))
    shop.work()
    ledger = shop.records()
    kept = {d.id: d.body for d in shop.deliveries() if d.order_id == "102"}

    shop.post("customers/redact", _redact_body([101, 999]))
    shop.work()
    redacted = [(d.topic, d.body) for d in shop.deliveries() if d.order_id == "101"]
    assert redacted == [("orders/paid", REDACTED), ("refunds/create", REDACTED)]
    assert {d.id: d.body for d in shop.deliveries() if d.order_id == "102"} == kept
    assert shop.records() == ledger  # amounts hold no personal data and stay

    # The order's facts survive redaction: a later refund of it is still applied.
    shop.post("refunds/create", payloads.refund(9102, 101, [(1011, 1, "60.00")], created_at=iso(now)))
    shop.work()
    assert [(r["kind"], r["amount"]) for r in shop.records(101)] == [("commission", "20.00"), ("refund", "-8.00"), ("refund", "-12.00")]


def test_shop_redact_replaces_every_processed_body_and_drops_the_token(shop, now) -> None:
    shop.cli("shop", "add", SHOP, "--token", "shpat_secret", CLAWBACK_ENCRYPTION_KEY=Fernet.generate_key().decode())
    shop.post("orders/paid", payloads.order(103, [(1031, "100.00", 1)], code="ANNA", created_at=iso(now)))
    shop.work()
    shop.post("shop/redact", {"shop_id": 954889, "shop_domain": SHOP})
    shop.work()
    order_delivery = by_topic(shop, "orders/paid")[0]
    assert order_delivery.body == REDACTED
    assert shop_row(shop).access_token_encrypted is None
    assert [r["amount"] for r in shop.records()] == ["20.00"]


def test_customers_redact_request_itself_keeps_no_customer_data(shop) -> None:
    shop.post("customers/redact", _redact_body([101]))
    shop.work()
    [request] = by_topic(shop, "customers/redact")
    assert request.status in {"done", "ignored"}
    assert b"john@example.com" not in request.body and b"555-625-1199" not in request.body


def test_customers_redact_also_redacts_a_failed_delivery_of_the_named_order(shop, now) -> None:
    broken = payloads.order(104, [(1041, "100.00", 1)], code="ANNA", email="john@example.com", created_at=iso(now))
    broken["taxes_included"] = None  # a payload error: failed at once, body kept for a person to look at
    shop.post("orders/paid", broken)
    shop.work()
    [failed] = shop.deliveries()
    assert failed.status == "failed"
    shop.post("customers/redact", _redact_body([104]))
    shop.work()
    assert shop.deliveries()[0].body == REDACTED


# -- conflicts --------------------------------------------------------------------------------------


def test_conflict_in_the_inbox_names_its_order(shop, now) -> None:
    shop.post("orders/paid", payloads.order(6, [(61, "100.00", 2)], code="ANNA", created_at=iso(now)))
    shop.post("refunds/create", payloads.refund(96, 6, [(61, 1, "100.00")], created_at=iso(now)))
    shop.post("refunds/create", payloads.refund(96, 6, [(61, 2, "200.00")], created_at=iso(now)))
    shop.work()
    assert [d.status for d in shop.deliveries()] == ["done", "done", "conflict"]
    assert shop.deliveries()[-1].business_key == "refund:96"  # which refund conflicted
    [item] = shop.cli.inbox()["attention"]
    assert (item["status"], item["order_id"]) == ("conflict", "6")
