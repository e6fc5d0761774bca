"""The policy core through the SQL store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from ledger.errors import IdempotencyConflict
from shopify_app.services import ledger as services, shops as registry
from tests.support.builders import days, line, order, refund

SHOP = "demo.myshopify.com"


def _shop(session):
    return registry.add_shop(session, SHOP, days(0))


def test_worked_example_2_clawback_after_payout(database) -> None:
    with database.transaction() as s:
        shop = _shop(s)
        services.apply_event(s, shop, order("1", line("a", "200.00"), currency="EUR", rate="20"), days(0))
    with database.transaction() as s:
        shop = services.find_shop(s, SHOP)
        assert services.approve_due(s, shop, days(31)) == [1]
        [payout] = services.run_payouts(s, shop, days(31))
        assert payout.total_minor == 4000
    with database.transaction() as s:
        shop = services.find_shop(s, SHOP)
        services.apply_event(s, shop, refund("r1", "1", ("a", 1, "100.00")), days(40))
        records = services.export_records(s, shop, "1")
    assert [(r.kind.value, r.status.value, str(r.amount), r.clawback, r.pairs_with) for r in records] == [
        ("commission", "paid", "40.00", False, None),
        ("refund", "approved", "-20.00", True, 1),
    ]
    with database.transaction() as s:
        [balance] = services.balances(s, services.find_shop(s, SHOP))
        assert [balance] == services.folded_balances(s, services.find_shop(s, SHOP))
    assert (str(balance.paid), str(balance.owed), str(balance.payable)) == ("40.00", "20.00", "0.00")


def test_refund_before_order_is_parked_then_applied(database) -> None:
    with database.transaction() as s:
        shop = _shop(s)
        outcome = services.apply_event(s, shop, refund("r1", "7", ("a", 1, "30.00")), days(0))
        assert outcome.effect.value == "parked"
        assert services.export_records(s, shop, "7") == []
    with database.transaction() as s:
        shop = services.find_shop(s, SHOP)
        services.apply_event(s, shop, order("7", line("a", "100.00"), rate="10"), days(0))
        records = services.export_records(s, shop, "7")
    assert [(r.kind.value, str(r.amount), r.source) for r in records] == [
        ("commission", "10.00", "order:7"),
        ("refund", "-3.00", "refund:r1"),
    ]


def test_same_refund_id_with_other_content_is_a_conflict_and_writes_nothing(database) -> None:
    with database.transaction() as s:
        shop = _shop(s)
        services.apply_event(s, shop, order("1", line("a", "100.00"), rate="10"), days(0))
        services.apply_event(s, shop, refund("r1", "1", ("a", 1, "30.00")), days(1))
    with pytest.raises(IdempotencyConflict):
        with database.transaction() as s:
            services.apply_event(s, services.find_shop(s, SHOP), refund("r1", "1", ("a", 1, "50.00")), days(2))
    with database.transaction() as s:
        assert len(services.export_records(s, services.find_shop(s, SHOP), "1")) == 2


@pytest.mark.parametrize("statement", ["UPDATE ledger_records SET amount_minor = 0", "DELETE FROM ledger_records"])
def test_the_database_refuses_to_change_ledger_records(database, statement) -> None:
    with database.transaction() as s:
        shop = _shop(s)
        services.apply_event(s, shop, order("1", line("a", "100.00"), rate="10"), days(0))
    with pytest.raises(DatabaseError, match="append-only"):
        with database.transaction() as s:
            s.execute(text(statement))
    with database.transaction() as s:
        [record] = services.export_records(s, services.find_shop(s, SHOP))
        assert str(record.amount) == "10.00"
