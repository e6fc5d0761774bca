"""The inbox cleanup (``store.inbox.prune``) on SQLite and PostgreSQL: finished deliveries
(done, ignored, redacted or not) older than the retention are deleted in bounded batches;
everything in flight or needing a person stays whatever its age; a Shopify retry of a
pruned delivery is tried again and adds nothing to the ledger; the worker runs the cleanup."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from shopify_app import worker
from shopify_app.config import Config
from shopify_app.dev import samples as payloads
from shopify_app.store import inbox
from shopify_app.store.inbox import DeliveryStatus, Settlement, Stored
from shopify_app.store.tables import WebhookDelivery
from tests.support.deliveries import SHOP, balances_agree, ledger_outcome, setup_shop

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=1)
CUTOFF = NOW - timedelta(days=30)


def store(database, webhook_id: str, at: datetime, topic: str = "orders/paid", body: bytes | None = None) -> Stored:
    body = body if body is not None else payloads.encode(payloads.order(int(webhook_id.split("-")[-1]), [(1, "10.00", 1)], code="ANNA"))
    with database.transaction() as session:
        return inbox.store_delivery(session, webhook_id=webhook_id, shop_domain=SHOP, topic=topic, api_version="2026-07",
                                    event_id=None, triggered_at=None, headers={}, body=body, now=at)


def settle(database, webhook_id: str, settlement: Settlement, at: datetime) -> None:
    """One try of the delivery at ``at``, concluded as ``settlement`` (what ``process`` would return)."""
    with database.transaction() as session:
        [claimed] = [c for c in inbox.claim(session, at, database.is_postgres, 1000) if c.id == _id(session, webhook_id)]
        inbox.finish(session, claimed, settlement, at, max_attempts=8)


def _id(session, webhook_id: str) -> int:
    return session.execute(select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == webhook_id)).scalar_one()


def rows(database) -> dict[str, str]:
    """webhook id -> status of every delivery still stored."""
    with database.reading() as session:
        return dict(session.execute(select(WebhookDelivery.webhook_id, WebhookDelivery.status)).all())


def stored_count(database) -> int:
    with database.reading() as session:
        return session.execute(select(func.count()).select_from(WebhookDelivery)).scalar_one()


def test_only_finished_deliveries_older_than_the_cutoff_are_removed(database) -> None:
    finished = {"old-done-1": DeliveryStatus.DONE, "old-ignored-2": DeliveryStatus.IGNORED, "old-redacted-3": DeliveryStatus.DONE,
                "new-done-4": DeliveryStatus.DONE, "new-ignored-5": DeliveryStatus.IGNORED}
    kept_old = {"old-parked-6": DeliveryStatus.PARKED, "old-review-7": DeliveryStatus.REVIEW, "old-failed-8": DeliveryStatus.FAILED,
                "old-held-9": DeliveryStatus.HELD}
    for webhook_id, status in {**finished, **kept_old}.items():
        at = OLD if webhook_id.startswith("old") else RECENT
        store(database, webhook_id, at)
        settle(database, webhook_id, Settlement(status, order_id=webhook_id.split("-")[-1]), at)
    store(database, "old-received-10", OLD)  # never tried (the worker was down for 40 days)
    store(database, "old-retrying-11", OLD)  # tried, and retried with backoff: still received
    settle(database, "old-retrying-11", Settlement(DeliveryStatus.FAILED, "Shopify down", retry=True), OLD)
    # A reused webhook id with other content: kept as a conflict for a person.
    assert store(database, "old-done-1", OLD, body=b'{"other": "content"}') is Stored.CONFLICT
    # Received long ago, parked, and settled by its order's sale yesterday: finished one day ago.
    store(database, "old-parked-then-done-12", OLD)
    settle(database, "old-parked-then-done-12", Settlement(DeliveryStatus.PARKED, order_id="12", business_key="refund:12"), OLD)
    with database.transaction() as session:
        inbox.settle_parked(session, SHOP, "12", {}, RECENT)
        # A privacy request redacted the body of one old finished delivery (and of the parked one).
        assert inbox.redact(session, SHOP, ["3", "6"]) == 2
    before = rows(database)
    assert before["old-parked-then-done-12"] == "done"

    assert inbox.prune(database, CUTOFF) == 3

    after = rows(database)
    assert set(before) - set(after) == {"old-done-1", "old-ignored-2", "old-redacted-3"}
    assert sorted(after.values()) == sorted(["done", "ignored", "parked", "review", "failed", "held", "received", "received",
                                             "conflict", "done"])
    assert inbox.prune(database, CUTOFF) == 0  # nothing more to do


def test_prune_works_in_bounded_batches(database) -> None:
    for n in range(7):
        store(database, f"done-{n}", OLD)
        settle(database, f"done-{n}", Settlement(DeliveryStatus.DONE), OLD)
    with database.transaction() as session:
        assert inbox.prune_batch(session, CUTOFF, database.is_postgres, 3) == 3
    assert stored_count(database) == 4
    # At most max_batches transactions of `batch` rows: a backlog is worked off over several runs.
    assert inbox.prune(database, CUTOFF, batch=2, max_batches=1) == 2
    assert stored_count(database) == 2
    assert inbox.prune(database, CUTOFF, batch=1) == 2  # until none is left
    assert stored_count(database) == 0


def test_each_batch_is_its_own_transaction(database, monkeypatch) -> None:
    for n in range(5):
        store(database, f"done-{n}", OLD)
        settle(database, f"done-{n}", Settlement(DeliveryStatus.DONE), OLD)
    counts: list[int] = []
    real = inbox.prune_batch

    def counting(session, *args):
        counts.append(real(session, *args))
        return counts[-1]

    monkeypatch.setattr(inbox, "prune_batch", counting)
    assert inbox.prune(database, CUTOFF, batch=2) == 5
    assert counts == [2, 2, 1]  # the short batch says none is left


@pytest.mark.postgres
def test_prune_skips_rows_another_transaction_holds_instead_of_waiting(database) -> None:
    if not database.is_postgres:
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite's writer lock serialises the whole prune")
    for n in range(3):
        store(database, f"done-{n}", OLD)
        settle(database, f"done-{n}", Settlement(DeliveryStatus.DONE), OLD)
    result: list[int] = []
    with database.transaction() as holder:  # e.g. a redaction updating this row's body
        holder.execute(text("SELECT id FROM webhook_deliveries WHERE webhook_id = 'done-1' FOR UPDATE"))
        pruning = threading.Thread(target=lambda: result.append(inbox.prune(database, CUTOFF)))
        pruning.start()
        pruning.join(timeout=20)
        assert not pruning.is_alive(), "the prune waited on a row lock"
    assert result == [2] and set(rows(database)) == {"done-1"}
    assert inbox.prune(database, CUTOFF) == 1


def test_a_retry_after_the_retention_is_tried_again_and_adds_nothing(database) -> None:
    """Shopify retries within hours (48 h in older documentation): while the delivery row is
    kept, a retry is a duplicate. After the retention it is stored as new and tried again,
    and the ledger's record identities make that try add nothing: it settles ``ignored``."""
    setup_shop(database)
    order = payloads.encode(payloads.order(500, [(5001, "80.00", 1)], code="ANNA", created_at=OLD.isoformat()))
    refund = payloads.encode(payloads.refund(900, 500, [(5001, 1, "80.00")], created_at=OLD.isoformat()))
    config = Config(database_url=database.url)
    assert store(database, "wh-order-1", OLD, body=order) is Stored.NEW
    assert store(database, "wh-refund-2", OLD, topic="refunds/create", body=refund) is Stored.NEW
    report = worker.run(database, config, until_idle=True, clock=lambda: OLD)
    assert report.statuses == {"done": 2}
    outcome = ledger_outcome(database)
    assert [(o[2], o[4]) for o in outcome] == [("commission", "10.00"), ("refund", "-10.00")]
    # Within Shopify's retry window the inbox knows the delivery: a duplicate, nothing stored.
    assert store(database, "wh-refund-2", OLD + timedelta(hours=47), topic="refunds/create", body=refund) is Stored.DUPLICATE
    assert inbox.prune(database, CUTOFF) == 2

    late = NOW
    assert store(database, "wh-refund-2", late, topic="refunds/create", body=refund) is Stored.NEW
    assert store(database, "wh-order-1", late, body=order) is Stored.NEW
    report = worker.run(database, config, until_idle=True, clock=lambda: late)
    assert report.statuses == {"ignored": 2}
    # The same records (approved by now: their delay passed), nothing added.
    assert [o[:6] for o in ledger_outcome(database)] == [o[:6] for o in outcome] and balances_agree(database)


def test_the_worker_prunes_when_idle_within_its_bounds(database) -> None:
    for n in range(5):
        store(database, f"done-{n}", OLD)
        settle(database, f"done-{n}", Settlement(DeliveryStatus.DONE), OLD)
    store(database, "recent-6", RECENT)
    settle(database, "recent-6", Settlement(DeliveryStatus.DONE), RECENT)
    config = Config(database_url=database.url, inbox_retention_days=30, inbox_prune_batch=2, inbox_prune_batch_sqlite=2,
                    inbox_prune_batches=2)
    assert worker.run(database, config, until_idle=True, clock=lambda: NOW).pruned == 4  # two batches of two
    assert worker.prune_inbox(database, config, NOW) == 1
    assert set(rows(database)) == {"recent-6"}
    # A longer retention keeps what a shorter one would delete.
    assert worker.prune_inbox(database, Config(database_url=database.url, inbox_retention_days=7), NOW) == 0


def test_a_failing_cleanup_is_logged_and_does_not_stop_the_worker(database, monkeypatch, caplog) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(inbox, "prune", broken)
    report = worker.run(database, Config(database_url=database.url), until_idle=True, clock=lambda: NOW)
    assert report.pruned == 0 and "inbox cleanup failed" in caplog.text
