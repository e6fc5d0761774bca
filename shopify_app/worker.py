"""The worker: claims stored deliveries and applies them to the ledger, exactly once in effect.

Each delivery is processed in ONE transaction together with its ledger writes and its own
status change, so a crash anywhere rolls everything back and the delivery is simply tried
again (at-least-once processing). The ledger's idempotency keys (refund id, order id,
dispute id + status, return id, edit id) make a second try add nothing (exactly-once
effects). Claims use ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers share
the inbox; on SQLite the writer lock (``BEGIN IMMEDIATE``) serialises them.

Outcomes: ``done``; ``parked`` (its order's sale is not known yet: kept in the order's
facts and applied when the sale arrives, then marked done); ``conflict`` (same id,
different content: nothing applied); ``failed`` (a payload that can never be applied, or
an error that persisted through ``max_attempts`` tries); otherwise back to ``received``
with an exponential backoff.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select, update
from sqlmodel import Session

from ledger.errors import IdempotencyConflict
from policy.engine import Effect
from policy.events import OrderPaid
from shopify_app import services, utcnow
from shopify_app.config import Config
from shopify_app.db import Database
from shopify_app.gateway import translate_delivery
from shopify_app.tables import Shop, WebhookDelivery
from shopify_app.webhooks.translate import PayloadError, business_key, order_id_of, parse_json

log = logging.getLogger("clawback.worker")


@dataclass
class RunReport:
    tried: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    approved: int = 0

    def count(self, status: str) -> None:
        self.tried += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, … capped at one hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


def _claim(session: Session, due_by: datetime, postgres: bool, limit: int) -> list[WebhookDelivery]:
    """Up to ``limit`` runnable deliveries, oldest due first (index order: no sort, no scan)."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "received", WebhookDelivery.next_attempt_at <= due_by)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _identify(delivery: WebhookDelivery) -> None:
    """Name the order and business key (``refund:ID``, ...) of a delivery that failed before
    saying so: people reading ``clawback inbox`` and ``customers/redact`` must still find it."""
    try:
        payload = parse_json(delivery.body)
        delivery.order_id = delivery.order_id or order_id_of(delivery.topic, payload)
        delivery.notice_key = delivery.notice_key or business_key(delivery.topic, payload)
    except (PayloadError, ValueError, KeyError, TypeError):
        pass


def _apply(session: Session, delivery: WebhookDelivery, now: datetime) -> str:
    """Translate and apply one delivery; returns its new status. Runs inside a savepoint."""
    shop = session.scalars(select(Shop).where(Shop.domain == delivery.shop_domain)).first()
    if shop is None:
        raise PayloadError(f"no shop {delivery.shop_domain} is installed")
    translation = translate_delivery(session, shop, delivery, now)
    delivery.order_id = translation.order_id or delivery.order_id
    delivery.last_error = translation.note or None
    effects = set()
    outcome_needs_review = []
    for event in translation.events:
        outcome = services.apply_event(session, shop, event, now)
        delivery.notice_key = event.key
        effects.add(outcome.effect)
        outcome_needs_review.append(bool(outcome.review))
        if outcome.notes or outcome.review:
            delivery.last_error = "; ".join(outcome.notes + outcome.review)
        if isinstance(event, OrderPaid) and outcome.effect is Effect.APPLIED:  # the sale just arrived
            _release_parked(session, shop, event.order_id, now)
    # A delivery that only repeated what was known (a duplicate, a second paid payload) is
    # "ignored", whichever worker saw it first, so concurrent runs end in the same statuses.
    if Effect.PARKED in effects:
        return "parked"
    if any(outcome_needs_review):
        return "review"
    return "done" if Effect.APPLIED in effects or translation.acted else "ignored"


def _release_parked(session: Session, shop: Shop, order_id: str, now: datetime) -> None:
    """The sale arrived and replayed the order's parked events: their deliveries are done."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.shop_domain == shop.domain, WebhookDelivery.order_id == order_id, WebhookDelivery.status == "parked")
        .values(status="done", processed_at=now)
    )


def _process(session: Session, delivery: WebhookDelivery, config: Config, now: datetime) -> str:
    """One delivery inside the batch's transaction; its own savepoint undoes a failed try."""
    delivery.attempts += 1
    try:
        with session.begin_nested():
            status = _apply(session, delivery, now)
    except IdempotencyConflict as conflict:
        status, delivery.last_error = "conflict", str(conflict)
    except PayloadError as error:
        status, delivery.last_error = "failed", f"payload: {error}"
    except Exception as error:  # noqa: BLE001 - anything else (NeedsFetch included) is retried, then kept
        delivery.last_error = f"{type(error).__name__}: {error}"
        status = "received" if delivery.attempts < config.worker_max_attempts else "failed"
        delivery.next_attempt_at = now + backoff(delivery.attempts)
        log.warning("delivery %s (%s) attempt %s: %s", delivery.id, delivery.topic, delivery.attempts, delivery.last_error)
    if status not in ("done", "ignored", "parked"):
        _identify(delivery)
    delivery.status = status
    if status != "received":
        delivery.processed_at = now
    session.add(delivery)
    return status


def process_batch(database: Database, config: Config, now: datetime, due_by: datetime | None = None) -> list[tuple[int, str]]:
    """Claim and process a batch of runnable deliveries in ONE transaction (one commit, one
    fsync); each delivery has its own savepoint. A crash rolls the whole batch back and it is
    simply tried again: the ledger's keys make the second try add nothing."""
    limit = config.worker_batch_sqlite if config.is_sqlite else config.worker_batch
    with database.transaction() as session:
        batch = _claim(session, due_by or now, database.is_postgres, limit)
        return [(delivery.id, _process(session, delivery, config, now)) for delivery in batch]


def periodic_jobs(database: Database, as_of: datetime) -> int:
    """Due approvals and affiliate risk flags, per shop; returns how many records were approved."""
    approved = 0
    with database.transaction() as session:
        for shop in services.all_shops(session):
            approved += len(services.approve_due(session, shop, as_of))
            services.refresh_risk(session, shop, as_of)
    return approved


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
    last_approval = None
    while not should_stop():
        now = clock()
        # A delivery retried later is due after ``started``, so an until-idle run tries each once.
        results = process_batch(database, config, now, due_by=started if until_idle else now)
        for _, status in results:
            report.count(status)
        if results:
            continue
        if last_approval is None or now - last_approval > timedelta(minutes=1):
            report.approved += periodic_jobs(database, now)
            last_approval = now
        if until_idle:
            break
        time.sleep(poll_seconds)
    return report
