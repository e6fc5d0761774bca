"""The worker: claims stored deliveries, tries each once (``services.process``), settles it
in the inbox, and runs the periodic jobs. Nothing here decides what a delivery means.

Each batch is ONE transaction holding every try's ledger writes and its settlement, each
try in its own savepoint: a crash rolls the batch back and its deliveries are simply tried
again (at-least-once processing), and the ledger's idempotency keys make the second try add
nothing (exactly-once effects). Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers share the inbox; on SQLite the writer lock serialises them.

When idle, at most once a minute, it runs the periodic jobs: approvals, risk flags and
reconciliation per shop (``periodic_jobs``), and the inbox cleanup (``prune_inbox``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from shopify_app.clock import utcnow
from shopify_app.config import Config
from shopify_app.services import ledger, reconcile
from shopify_app.services.process import try_batch
from shopify_app.services.reading import Readers, admin_readers
from shopify_app.store import inbox, shops
from shopify_app.store.engine import Database
from shopify_app.store.inbox import DeliveryStatus

log = logging.getLogger("clawback.worker")


@dataclass
class RunReport:
    tried: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    approved: int = 0
    pruned: int = 0

    def count(self, status: DeliveryStatus) -> None:
        self.tried += 1
        self.statuses[status.value] = self.statuses.get(status.value, 0) + 1


def process_batch(
    database: Database, config: Config, now: datetime, due_by: datetime | None = None, readers: Readers | None = None,
    limit: int | None = None,
) -> list[tuple[int, DeliveryStatus]]:
    """Claim a batch of runnable deliveries and try each once, in ONE transaction
    (``services.process.try_batch``)."""
    limit = limit or config.worker_batch
    with database.transaction() as session:
        batch = inbox.claim(session, due_by or now, database.is_postgres, limit)
        return try_batch(session, batch, now, readers, config.worker_max_attempts)


def periodic_jobs(database: Database, as_of: datetime, config: Config | None = None, readers: Readers | None = None) -> int:
    """Due approvals and affiliate risk flags, shop by shop, and (with ``readers``) each
    installed shop's reconciliation once ``config.reconcile_every`` has passed since its
    last; returns how many records were approved. A shop whose job fails (its stored
    settings unreadable, Shopify down) is logged and skipped: it never stops another shop's."""
    approved = 0
    with database.reading() as session:
        due = [(shop.domain, shop.last_reconciled_at, shop.installed_at, shop.access_token_encrypted is not None and not shop.uninstalled_at)
               for shop in shops.all_shops(session)]
    for domain, last, installed, readable in due:
        try:
            with database.transaction() as session:
                shop = shops.find(session, domain)
                approved += len(ledger.approve_due(session, shop, as_of))
                ledger.refresh_risk(session, shop, as_of)
            since = reconcile.due_since(last, installed, as_of, config.reconcile_every) if config else None
            if readers is not None and readable and since is not None:
                report = reconcile.catch_up(database, domain, since, as_of, readers)
                log.info("reconciled %s since %s: %s orders, %s records", domain, since.isoformat(), report.orders, report.records)
        except Exception:  # noqa: BLE001 - one shop's failure must not stop the others
            log.exception("periodic jobs failed for %s", domain)
    return approved


def prune_inbox(database: Database, config: Config, now: datetime) -> int:
    """Delete finished deliveries older than ``config.inbox_retention_days`` (at most
    ``config.inbox_prune_batches`` batches: a backlog is worked off over the next idle
    minutes); returns how many. A failure is logged and left for the next time."""
    try:
        removed = inbox.prune(database, now - timedelta(days=config.inbox_retention_days), config.prune_batch,
                              config.inbox_prune_batches)
    except Exception:  # noqa: BLE001 - the cleanup must never stop the worker
        log.exception("inbox cleanup failed")
        return 0
    if removed:
        log.info("inbox cleanup: %s finished deliveries older than %s days deleted", removed, config.inbox_retention_days)
    return removed


def run(
    database: Database,
    config: Config,
    *,
    until_idle: bool = False,
    clock: Callable[[], datetime] = utcnow,
    poll_seconds: float = 1.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> RunReport:
    """Process deliveries; with ``until_idle``, stop once every delivery stored when the run
    started has been tried once in it (a retry scheduled for later does not keep it going)."""
    report = RunReport()
    started = clock()
    last_jobs = None
    readers = admin_readers(config)
    limit, single = None, 0  # after a failed batch, ``single`` deliveries go one per transaction
    while not should_stop():
        now = clock()
        # A delivery retried later is due after ``started``, so an until-idle run tries each once.
        try:
            results = process_batch(database, config, now, due_by=started if until_idle else now, readers=readers, limit=limit)
        except Exception:  # noqa: BLE001 - only a batch: one delivery per transaction raises as before
            if (limit or config.worker_batch) == 1:
                raise
            log.warning("a batch failed as a whole and was rolled back; its deliveries are tried one per transaction", exc_info=True)
            limit, single = 1, config.worker_batch
            continue
        if single:
            single -= len(results)
            limit = 1 if single > 0 else None
        for _, status in results:
            report.count(status)
        if results:
            continue
        if last_jobs is None or now - last_jobs > timedelta(minutes=1):
            report.approved += periodic_jobs(database, now, config, readers)
            report.pruned += prune_inbox(database, config, now)
            last_jobs = now
        if until_idle:
            break
        time.sleep(poll_seconds)
    return report
