"""Services on a real database (SQLite and PostgreSQL): snapshots applied to their orders,
approvals, payouts and balances, and the database's own refusal to edit ledger rows."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from ledger.errors import IdempotencyConflict
from policy.engine import Effect
from shopify_app.dev import samples
from shopify_app.services import ledger, shops as registry
from shopify_app.services.orders import apply_snapshot
from shopify_app.shopify.parse import parse_delivery
from tests.support.builders import days

SHOP = "demo.myshopify.com"


def snapshot(topic: str, payload: dict):
    return parse_delivery(topic, samples.encode(payload)).snapshot


def sale(order_id: int, price: str, currency: str = "USD"):
    return snapshot("orders/paid", samples.order(order_id, [(order_id * 10, price, 1)], currency=currency, code="ANNA",
                                                 created_at=days(0).isoformat()))


def refund(refund_id: int, order_id: int, subtotal: str, currency: str = "USD"):
    return snapshot("refunds/create", samples.refund(refund_id, order_id, [(order_id * 10, 1, subtotal)], currency=currency,
                                                     created_at=days(1).isoformat()))


@pytest.fixture
def shop(database):
    with database.transaction() as session:
        row = registry.add_shop(session, SHOP, days(0))
        registry.add_affiliate(session, row, "ANNA", "anna@aff.example", days(0), "20")
    return database


def apply(database, snap, now):
    with database.transaction() as session:
        return apply_snapshot(session, registry.require_shop(session, SHOP), snap, now)


def records(database, order_id: str | None = None):
    with database.reading() as session:
        return ledger.export_records(session, registry.require_shop(session, SHOP), order_id)


def test_worked_example_2_clawback_after_payout(shop) -> None:
    written = apply(shop, sale(1, "200.00", "EUR"), days(0))
    assert [(r.kind.value, str(r.amount)) for r in written.records] == [("commission", "40.00")]  # what it wrote
    with shop.transaction() as s:
        row = registry.require_shop(s, SHOP)
        assert ledger.approve_due(s, row, days(31)) == [written.records[0].id]
        [payout] = ledger.run_payouts(s, row, days(31))
        assert payout.total_minor == 4000
    clawback = apply(shop, refund(11, 1, "100.00", "EUR"), days(40))
    assert [(r.kind.value, r.status.value, str(r.amount), r.clawback) for r in clawback.records] == [("refund", "approved", "-20.00", True)]
    assert [(r.kind.value, r.status.value, str(r.amount), r.clawback, r.pairs_with) for r in records(shop, "1")] == [
        ("commission", "paid", "40.00", False, None),
        ("refund", "approved", "-20.00", True, written.records[0].id),
    ]
    with shop.reading() as s:
        row = registry.require_shop(s, SHOP)
        [balance] = ledger.balances(s, row)
        assert [balance] == ledger.folded_balances(s, row)
    assert (str(balance.paid), str(balance.owed), str(balance.payable)) == ("40.00", "20.00", "0.00")


def test_refund_before_order_is_parked_then_applied_and_reported_replayed(shop) -> None:
    parked = apply(shop, refund(31, 7, "30.00"), days(0))
    assert parked.effects == {Effect.PARKED} and parked.records == () and records(shop, "7") == []
    applied = apply(shop, sale(7, "100.00"), days(0))
    assert [(r.key, r.effect) for r in applied.replayed] == [("refund:31", Effect.APPLIED)]
    assert [(r.kind.value, str(r.amount), r.source) for r in applied.records] == [
        ("commission", "20.00", "order:7"), ("refund", "-6.00", "refund:31")]
    assert [(r.kind.value, str(r.amount)) for r in records(shop, "7")] == [("commission", "20.00"), ("refund", "-6.00")]


def test_same_refund_id_with_other_content_is_a_conflict_and_writes_nothing(shop) -> None:
    apply(shop, sale(1, "100.00"), days(0))
    apply(shop, refund(11, 1, "30.00"), days(1))
    with pytest.raises(IdempotencyConflict):
        apply(shop, refund(11, 1, "50.00"), days(2))
    assert len(records(shop, "1")) == 2


def test_an_order_payload_teaches_the_shop_its_currency(shop) -> None:
    apply(shop, sale(1, "100.00", "EUR"), days(0))
    with shop.reading() as s:
        assert registry.require_shop(s, SHOP).currency == "EUR"
    apply(shop, sale(2, "100.00", "USD"), days(0))  # the first one told it; later ones do not move it
    with shop.reading() as s:
        assert registry.require_shop(s, SHOP).currency == "EUR"


@pytest.mark.parametrize("statement", ["UPDATE ledger_records SET amount_minor = 0", "DELETE FROM ledger_records"])
def test_the_database_refuses_to_change_ledger_records(shop, statement) -> None:
    apply(shop, sale(1, "100.00"), days(0))
    with pytest.raises(DatabaseError, match="append-only"):
        with shop.transaction() as s:
            s.execute(text(statement))
    [record] = records(shop)
    assert str(record.amount) == "20.00"
