"""The intake's writer (``store.intake.InboxWriter``) on SQLite and PostgreSQL: a new delivery
is one INSERT and never reaches ``store_delivery``; a retry or a reused id does, with the
outcomes it defines; a connection the server dropped is replaced without a refused delivery;
on SQLite the deliveries waiting in a process are written in one transaction, and when that
fails none of them is stored and each is refused."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import event, select, text

from shopify_app.store import intake
from shopify_app.store.engine import StorageUnavailable
from shopify_app.store.inbox import Stored, store_delivery
from shopify_app.store.intake import InboxWriter
from shopify_app.store.tables import WebhookDelivery

SHOP = "demo.myshopify.com"
NOW = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)


@pytest.fixture
def writer(database):
    built = InboxWriter(database)
    yield built
    built.close()


@pytest.fixture
def fallbacks(monkeypatch) -> list[str]:
    """The webhook ids ``store_delivery`` was called for by the writer."""
    called: list[str] = []

    def spy(connection, **delivery):
        called.append(delivery["webhook_id"])
        return store_delivery(connection, **delivery)

    monkeypatch.setattr(intake, "store_delivery", spy)
    return called


def store(writer: InboxWriter, webhook_id: str, body: bytes = b'{"id": 1}', shop: str = SHOP) -> Stored:
    return writer.store(webhook_id=webhook_id, shop_domain=shop, topic="orders/paid", api_version="2026-07", event_id="ev",
                        triggered_at="2026-12-02T06:00:00Z", headers={"x-shopify-topic": "orders/paid"}, body=body, now=NOW)


def rows(database) -> list[tuple]:
    with database.reading() as session:
        return [(d.webhook_id, d.shop_domain, d.status, d.body, d.received_at, d.next_attempt_at, d.headers_json, d.attempts)
                for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]


def test_deliveries_get_the_answers_and_rows_of_store_delivery(database, writer, fallbacks) -> None:
    assert store(writer, "wh-1") is Stored.NEW
    assert fallbacks == []  # a new delivery is the INSERT alone
    assert store(writer, "wh-1") is Stored.DUPLICATE
    assert store(writer, "wh-1", body=b'{"id": 2}') is Stored.CONFLICT
    assert store(writer, "wh-1", body=b'{"id": 2}') is Stored.DUPLICATE  # a retry of the conflicting copy
    assert fallbacks == ["wh-1"] * 3
    [new, conflict] = rows(database)
    assert new == ("wh-1", SHOP, "received", b'{"id": 1}', NOW, NOW, '{"x-shopify-topic": "orders/paid"}', 0)
    assert conflict[0].startswith("wh-1#") and conflict[2:4] == ("conflict", b'{"id": 2}')
    with database.transaction() as session:  # the writer's rows are the ones store_delivery itself would have written
        assert store_delivery(session, webhook_id="wh-2", shop_domain=SHOP, topic="orders/paid", api_version="2026-07",
                              event_id="ev", triggered_at="2026-12-02T06:00:00Z", headers={"x-shopify-topic": "orders/paid"},
                              body=b'{"id": 1}', now=NOW) is Stored.NEW
    assert rows(database)[2][1:] == new[1:]


def test_a_new_delivery_is_one_statement_on_sqlite(tmp_path) -> None:
    from shopify_app.store.engine import Database
    from shopify_app.store.migrate import upgrade

    database = Database(f"sqlite:///{tmp_path / 'traced.sqlite3'}")
    upgrade(database)
    database.engine.dispose()
    statements: list[str] = []
    event.listen(database.engine, "connect", lambda connection, _record: connection.set_trace_callback(statements.append))
    try:
        assert store(InboxWriter(database), "wh-1") is Stored.NEW
        assert len(statements) == 1 and statements[0].startswith("INSERT INTO webhook_deliveries ")
        assert statements[0].endswith("ON CONFLICT (webhook_id) DO NOTHING")
    finally:
        database.dispose()


def test_a_connection_the_server_dropped_is_replaced_without_refusing_a_delivery(database, writer, fallbacks) -> None:
    assert store(writer, "wh-1") is Stored.NEW
    [kept] = writer._idle
    if database.is_postgres:
        with database.engine.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": kept.info.backend_pid}).scalar()
    else:
        kept.close()
    assert store(writer, "wh-2") is Stored.NEW
    assert fallbacks == []
    assert [r[0] for r in rows(database)] == ["wh-1", "wh-2"]


def test_disposing_the_engine_closes_the_kept_connections(database, writer) -> None:
    assert store(writer, "wh-1") is Stored.NEW
    [kept] = writer._idle
    database.engine.dispose()
    assert writer._idle == [] and (kept.closed if database.is_postgres else _closed(kept))
    assert store(writer, "wh-2") is Stored.NEW


def _closed(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def _all_at_once(writer: InboxWriter, deliveries: list[tuple[str, bytes]]) -> list[Stored | str]:
    """Store ``deliveries`` from one thread each, all waiting while another turn is held, so
    that the next turn takes them together (SQLite)."""
    answers: list[Stored | str] = [""] * len(deliveries)

    def one(i: int, webhook_id: str, body: bytes) -> None:
        try:
            answers[i] = store(writer, webhook_id, body)
        except StorageUnavailable as exc:
            answers[i] = f"unavailable: {exc}"

    threads = [threading.Thread(target=one, args=(i, *d)) for i, d in enumerate(deliveries)]
    with writer._turn:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(writer._waiting) < len(deliveries) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(writer._waiting) == len(deliveries)
    for thread in threads:
        thread.join(10)
    return answers


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_sqlite_writes_the_deliveries_waiting_in_a_process_in_one_transaction(database, writer, fallbacks) -> None:
    statements: list[str] = []
    event.listen(database.engine, "connect", lambda connection, _record: connection.set_trace_callback(statements.append))
    deliveries = [(f"wh-{n}", b'{"id": %d}' % n) for n in range(5)] + [("wh-0", b'{"id": 0}'), ("wh-1", b'{"id": 9}')]
    answers = _all_at_once(writer, deliveries)
    assert answers == [Stored.NEW] * 5 + [Stored.DUPLICATE, Stored.CONFLICT]
    assert sorted(fallbacks) == ["wh-0", "wh-1"]
    assert [s.split(" ", 2)[:2] for s in statements[:9]] == [["BEGIN", "IMMEDIATE"]] + [["INSERT", "INTO"]] * 7 + [["COMMIT"]]
    assert sorted(r[0] for r in rows(database) if r[2] == "received") == [f"wh-{n}" for n in range(5)]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_when_the_transaction_of_a_turn_fails_none_of_its_deliveries_is_stored_and_each_is_refused(database, writer) -> None:
    with database.engine.begin() as connection:  # the INSERT now fails, as it would on a full disk
        connection.exec_driver_sql("ALTER TABLE webhook_deliveries RENAME TO webhook_deliveries_away")
    answers = _all_at_once(writer, [(f"wh-{n}", b"{}") for n in range(4)])
    assert answers == ["unavailable: OperationalError: no such table: webhook_deliveries"] * 4
    with database.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE webhook_deliveries_away RENAME TO webhook_deliveries")
    assert rows(database) == []
    assert store(writer, "wh-0") is Stored.NEW  # and the next delivery is stored
