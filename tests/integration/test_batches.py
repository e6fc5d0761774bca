"""The worker's batches: many deliveries in one transaction, each in its own savepoint, the
balance totals written once per batch (``store.totals``), and a batch that fails as a whole
tried again one delivery per transaction."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import event, select, update

from shopify_app import worker
from shopify_app.config import Config
from shopify_app.dev import samples as payloads
from shopify_app.services import install, orders as services_orders, shops as registry
from shopify_app.services.errors import TryLater
from shopify_app.services.process import try_batch
from shopify_app.shopify.oauth import InvalidRefreshToken, TokenSet
from shopify_app.store import batch as batches, inbox, orders as order_rows, totals
from shopify_app.store.crypto import TokenCipher
from shopify_app.store.tables import BalanceTotal, OrderRow, WebhookDelivery
from tests.support.deliveries import SHOP, balances_agree, enqueue, inbox_statuses, ledger_outcome, setup_shop, workload


def _sales(orders: int, seed: int) -> list[tuple[str, dict]]:
    """The workload's orders/paid deliveries, each order once."""
    return list({payload["id"]: (topic, payload) for topic, payload in workload(orders, seed) if topic == "orders/paid"}.values())


def _totals(session) -> list[tuple]:
    query = select(BalanceTotal.affiliate, BalanceTotal.currency, BalanceTotal.status, BalanceTotal.amount_minor, BalanceTotal.record_count)
    return sorted(tuple(row) for row in session.execute(query))


def test_deferred_totals_count_released_savepoints_only_and_are_written_at_the_end(database) -> None:
    setup_shop(database)
    with database.transaction() as session:
        shop_id = registry.require_shop(session, SHOP).id
        with batches.opened(session):
            totals.add(session, shop_id, {("ANNA", "USD", "pending"): (1000, 1)})
            with batches.savepoint(session):
                totals.add(session, shop_id, {("ANNA", "USD", "pending"): (250, 1)})
                with pytest.raises(ZeroDivisionError), batches.savepoint(session):
                    totals.add(session, shop_id, {("BEN", "USD", "pending"): (999, 1)})
                    raise ZeroDivisionError
            with pytest.raises(ZeroDivisionError), batches.savepoint(session):
                totals.add(session, shop_id, {("ANNA", "USD", "approved"): (5, 1)})
                raise ZeroDivisionError
            assert _totals(session) == []  # nothing is written before the block ends
        assert _totals(session) == [("ANNA", "USD", "pending", 1250, 2)]
    with database.reading() as session:
        assert _totals(session) == [("ANNA", "USD", "pending", 1250, 2)]


def test_totals_not_deferred_are_written_at_once_and_a_failed_deferred_block_writes_nothing(database) -> None:
    setup_shop(database)
    with database.transaction() as session:
        shop_id = registry.require_shop(session, SHOP).id
        totals.add(session, shop_id, {("BEN", "EUR", "paid"): (-300, 1)})
        assert _totals(session) == [("BEN", "EUR", "paid", -300, 1)]
        with pytest.raises(ZeroDivisionError), batches.opened(session):
            totals.add(session, shop_id, {("BEN", "EUR", "paid"): (-1, 1)})
            raise ZeroDivisionError
        assert _totals(session) == [("BEN", "EUR", "paid", -300, 1)]
        with batches.opened(session), pytest.raises(RuntimeError, match="already open"), batches.opened(session):
            pass


def test_a_batch_writes_each_changed_total_once(database) -> None:
    setup_shop(database)
    enqueue(database, _sales(12, seed=3))
    statements: list[str] = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(database.engine, "before_cursor_execute", listener)
    try:
        results = worker.process_batch(database, Config(database_url=database.url), datetime.now(timezone.utc), limit=20)
    finally:
        event.remove(database.engine, "before_cursor_execute", listener)
    assert [status.value for _, status in results] == ["done"] * 12
    writes = [s for s in statements if s.startswith("INSERT INTO balance_totals")]
    with database.reading() as session:
        rows = _totals(session)
    # Every record of the 12 sales is counted once, whatever the batch summed before writing.
    assert {row[0] for row in rows} == {"ANNA", "BEN"} and sum(row[4] for row in rows) == len(ledger_outcome(database)) >= 12
    assert len(writes) == len(rows)  # one per changed (affiliate, currency, status), not one per record
    # The orders and their records are read once for the batch and each order written once.
    assert sum("FROM ledger_records" in s for s in statements) == 1
    assert sum(s.startswith("UPDATE orders") for s in statements) == 1
    assert sum("FROM orders" in s for s in statements) == 1
    assert sum("FROM affiliates" in s for s in statements) == 1  # the codes of all 12 sales, read once
    assert sum(s.startswith("UPDATE webhook_deliveries") for s in statements) == 1  # how each try settled, one executemany
    assert balances_agree(database)


@pytest.mark.parametrize("after_writing", [False, True], ids=["before-writing", "after-posting"])
def test_a_failed_try_leaves_neither_records_nor_totals(database, monkeypatch, caplog, after_writing) -> None:
    """A try that fails while deciding (before any write) is dropped from the optimistic pass
    alone; one that fails after its records were inserted makes the pass be undone and run
    again with a savepoint per try. Either way the others are applied and it left nothing."""
    setup_shop(database)
    paid = _sales(6, seed=4)
    enqueue(database, paid)
    doomed = str(paid[3][1]["id"])
    # save(session, locked order, ...) runs after the records are inserted; referral_for(session, shop, snapshot) before.
    module, name, subject = (order_rows, "save", 1) if after_writing else (services_orders, "referral_for", 2)
    original = getattr(module, name)

    def failing(*args):
        if args[subject].order_id == doomed:
            raise (ConnectionResetError("lost the row mid-try") if after_writing else TryLater("the affiliates are being rebuilt"))
        return original(*args)

    monkeypatch.setattr(module, name, failing)
    with caplog.at_level(logging.INFO, logger="clawback.process"):
        results = worker.process_batch(database, Config(database_url=database.url), datetime.now(timezone.utc), limit=20)
    assert ("tried again with a savepoint per try" in caplog.text) is after_writing
    assert [status.value for _, status in results] == ["done", "done", "done", "received", "done", "done"]
    assert doomed not in {row[0] for row in ledger_outcome(database)}
    assert len({row[0] for row in ledger_outcome(database)}) == len(paid) - 1
    assert balances_agree(database)


def test_a_batch_that_fails_as_a_whole_is_tried_again_one_delivery_per_transaction(database, tmp_path, monkeypatch) -> None:
    events = workload(15, seed=9)
    from tests.integration.test_faults import _reference

    expected, expected_inbox = _reference(events, tmp_path)
    setup_shop(database)
    enqueue(database, events)
    write, failures = totals.write, []

    def fails_once(session, changes):
        if not failures:
            failures.append(len(changes))
            raise ConnectionResetError("the connection dropped at the end of the batch")
        return write(session, changes)

    monkeypatch.setattr(totals, "write", fails_once)
    report = worker.run(database, Config(database_url=database.url), until_idle=True)
    assert failures and report.tried == len(events)
    assert inbox_statuses(database) == expected_inbox
    assert ledger_outcome(database) == expected
    assert balances_agree(database)


def test_an_order_whose_stored_facts_no_longer_read_fails_alone(database) -> None:
    """Bad stored data of one shop's order is not held by the batch: only its own try fails,
    and the other shop's deliveries in the same batch are applied."""
    other = "other-shop.myshopify.com"
    setup_shop(database)
    setup_shop(database, other)
    now = datetime.now(timezone.utc)
    with database.transaction() as session:
        shop_id = registry.require_shop(session, SHOP).id
        order_rows.lock_in_order(session, [(shop_id, "501")], now)
        session.execute(update(OrderRow).where(OrderRow.order_id == "501").values(facts_json='{"order_id": "501", "parked": [{"type": "legacy"}]}'))
    enqueue(database, [("refunds/create", payloads.refund(1, 501, [(5010, 1, "10.00")], created_at=now.isoformat()))])
    enqueue(database, _sales(5, seed=6), domain=other)
    report = worker.run(database, Config(database_url=database.url), until_idle=True)
    assert report.tried == 6 and report.statuses == {"received": 1, "done": 5}
    with database.reading() as session:
        note = session.execute(select(WebhookDelivery.last_error).where(WebhookDelivery.shop_domain == SHOP)).scalar_one()
    assert note.startswith("KeyError")  # kept, retried, and visible with why
    assert len({row[0] for row in ledger_outcome(database, other)}) == 5


def test_a_token_is_refreshed_once_even_when_the_batch_is_tried_again(database, monkeypatch) -> None:
    """A refresh token works once. A batch with a shop whose token is due for a refresh is
    tried carefully from the start, so a try that spoils it cannot make the refresh repeat."""
    setup_shop(database)
    cipher = TokenCipher(Fernet.generate_key())
    now = datetime.now(timezone.utc)
    with database.transaction() as session:
        shop = registry.require_shop(session, SHOP)
        install.store_tokens(shop, TokenSet("at1", ("read_orders",), now + timedelta(minutes=1), "rt1", now + timedelta(days=80)), cipher)
        session.add(shop)
    sent: list[str] = []

    class Endpoint:
        def refresh(self, _shop, refresh_token, *, now):
            sent.append(refresh_token)
            if sent.count(refresh_token) > 1:
                raise InvalidRefreshToken("used")
            return TokenSet("at2", ("read_orders",), now + timedelta(hours=1), "rt2", now + timedelta(days=90))

    class Reader:
        def order(self, _order_id):
            return None  # not visible yet: the refund stays parked

    def readers(session, shop, now):
        return Reader() if install.access_token(session, shop, now, Endpoint(), cipher) else None

    # A refund before its order (parked: its order is read from Shopify, refreshing the token),
    # then a sale whose try fails after writing.
    enqueue(database, [("refunds/create", payloads.refund(9001, 5001, [(50011, 1, "10.00")], created_at=now.isoformat())),
                       ("orders/paid", payloads.order(5002, [(50021, "20.00", 1)], code="ANNA", created_at=now.isoformat()))])
    save = order_rows.save
    monkeypatch.setattr(order_rows, "save", lambda session, locked, *args: (
        (_ for _ in ()).throw(ConnectionResetError("lost")) if locked.order_id == "5002" else save(session, locked, *args)))
    with database.transaction() as session:
        settled = try_batch(session, inbox.claim(session, now + timedelta(seconds=1), database.is_postgres, 20), now, readers)
    assert [status.value for _, status in settled] == ["parked", "received"]
    assert sent == ["rt1"]
    with database.reading() as session:
        shop = registry.require_shop(session, SHOP)
        assert not shop.needs_auth and cipher.decrypt(shop.refresh_token_encrypted) == "rt2"
