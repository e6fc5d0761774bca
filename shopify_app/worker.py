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
from shopify_app import services, utcnow
from shopify_app.config import Config
from shopify_app.db import Database
from shopify_app.gateway import translate_delivery
from shopify_app.tables import Shop, WebhookDelivery
from shopify_app.webhooks.translate import PayloadError, order_id_of, parse_json

log = logging.getLogger("clawback.worker")

RUNNABLE = ("received",)


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


def _claim(session: Session, due_by: datetime, skip: set[int], postgres: bool) -> WebhookDelivery | None:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status.in_(RUNNABLE), WebhookDelivery.next_attempt_at <= due_by)
        .order_by(WebhookDelivery.id)
        .limit(1)
    )
    if skip:
        query = query.where(WebhookDelivery.id.not_in(skip))
    if postgres:
        query = query.with_for_update(skip_locked=True)
    return session.scalars(query).first()


def _order_id(delivery: WebhookDelivery) -> str | None:
    """The order a delivery concerns, known before processing so that a failed or conflicting
    delivery still names it (for people, and for ``customers/redact``)."""
    try:
        return order_id_of(delivery.topic, parse_json(delivery.body))
    except (PayloadError, ValueError, KeyError, TypeError):
        return None


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
    for notice in translation.notices:
        outcome = services.apply_notice(session, shop, notice, now)
        delivery.notice_key = notice.key
        effects.add(outcome.effect)
        outcome_needs_review.append(bool(outcome.review))
        if outcome.notes or outcome.review:
            delivery.last_error = "; ".join(outcome.notes + outcome.review)
        if outcome.facts.sale is not None and notice.key.startswith("order:"):
            _release_parked(session, shop, notice.order_id, now)
    # A delivery that only repeated what was known (a duplicate, a second paid payload) is
    # "ignored", whichever worker saw it first, so concurrent runs end in the same statuses.
    if Effect.PARKED in effects:
        return "parked"
    if any(outcome_needs_review):
        return "review"
    return "done" if Effect.APPLIED in effects or translation.acted else "ignored"


def _release_parked(session: Session, shop: Shop, order_id: str, now: datetime) -> None:
    """The sale arrived and replayed the order's parked notices: their deliveries are done."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.shop_domain == shop.domain, WebhookDelivery.order_id == order_id, WebhookDelivery.status == "parked")
        .values(status="done", processed_at=now)
    )


def process_next(database: Database, config: Config, now: datetime, due_by: datetime | None = None, skip: set[int] | None = None) -> tuple[int, str] | None:
    """Claim and process one runnable delivery; None when there is none."""
    skip = skip if skip is not None else set()
    with database.transaction() as session:
        delivery = _claim(session, due_by or now, skip, database.is_postgres)
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.order_id = _order_id(delivery)
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
        delivery.status = status
        if status != "received":
            delivery.processed_at = now
        session.add(delivery)
        return delivery.id, status


def periodic_jobs(database: Database, as_of: datetime) -> int:
    """Due approvals and affiliate risk flags, per shop; returns how many records were approved."""
    approved = 0
    with database.transaction() as session:
        for shop in services.all_shops(session):
            approved += len(services.approve_due(session, shop, as_of))
            services.refresh_signals(session, shop, as_of)
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
    tried: set[int] = set()
    last_approval = None
    while not should_stop():
        now = clock()
        result = process_next(database, config, now, due_by=started if until_idle else now, skip=tried if until_idle else None)
        if result is not None:
            delivery_id, status = result
            tried.add(delivery_id)
            report.count(status)
            continue
        if last_approval is None or now - last_approval > timedelta(minutes=1):
            report.approved += periodic_jobs(database, now)
            last_approval = now
        if until_idle:
            break
        time.sleep(poll_seconds)
    return report
