"""The webhook inbox: every verified delivery, stored before Shopify gets its 200, and its
life after that. Nothing here reads a payload; ``services.process`` decides what a delivery
means, this module keeps where it stands.

A delivery is ``received`` until a try settles it: ``done``, ``ignored`` (moved nothing
new), ``parked`` (waiting for its order's sale), ``review`` (money held for the merchant),
``conflict`` or ``failed``; or ``held`` while its shop has uninstalled the app (released, and
processed, if the shop reinstalls). A try that fails for a reason that may pass is retried with an
exponential backoff, and kept as ``failed`` after the configured number of attempts.

Finished deliveries (``done``, ``ignored``, redacted or not) are deleted once they are old
enough (``prune``): the ledger records and the order's facts are the record of what they did,
and the inbox would otherwise grow by every webhook ever received. Every other status stays.

Statements are Core, not ORM: the worker claims, tries and settles thousands of deliveries,
and one UPDATE per settled delivery is all it needs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Iterable, Mapping

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from shopify_app.store import batch as batches
from shopify_app.store.engine import Database, insert_on_conflict
from shopify_app.store.tables import WebhookDelivery

_INBOX = WebhookDelivery.__table__


class DeliveryStatus(StrEnum):
    RECEIVED = "received"
    DONE = "done"
    IGNORED = "ignored"
    PARKED = "parked"
    REVIEW = "review"
    CONFLICT = "conflict"
    FAILED = "failed"
    HELD = "held"

    @property
    def settled(self) -> bool:
        """No try is pending: the body is no longer needed to process it (and may be redacted)."""
        return self is not DeliveryStatus.RECEIVED


NEEDS_ATTENTION = (DeliveryStatus.FAILED, DeliveryStatus.CONFLICT, DeliveryStatus.REVIEW)
"""Statuses a person must look at (parked ones too, once they have waited too long)."""

FINISHED = (DeliveryStatus.DONE, DeliveryStatus.IGNORED)
"""Statuses whose delivery is over: what it did is in the ledger and the order's facts, so
its row may be pruned once old. Every other status is kept, whatever its age: ``received``
is in flight, ``parked`` waits for its order, ``held`` for a reinstall, and ``failed``,
``conflict`` and ``review`` for a person (``needing_attention``)."""

REDACTED = b'{"redacted": true}'


class Stored(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"  # the same webhook id with the same shop, topic and body: a retry
    CONFLICT = "conflict"  # the same webhook id with other content: kept, never applied


def new_row(
    *, webhook_id: str, shop_domain: str, topic: str, api_version: str | None, event_id: str | None, triggered_at: str | None,
    headers: Mapping[str, str], body: bytes, now: datetime,
) -> dict:
    """The inbox row of a delivery just received: ``received``, due now, no attempt yet."""
    return {
        "webhook_id": webhook_id, "shop_domain": shop_domain, "topic": topic, "event_id": event_id,
        "api_version": api_version, "triggered_at": triggered_at, "received_at": now,
        "headers_json": json.dumps(dict(headers), sort_keys=True), "body": bytes(body),
        "status": DeliveryStatus.RECEIVED.value, "attempts": 0, "next_attempt_at": now,
    }


def store_delivery(
    connection: Connection | Session,
    *,
    webhook_id: str,
    shop_domain: str,
    topic: str,
    api_version: str | None,
    event_id: str | None,
    triggered_at: str | None,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Stored:
    """Store one delivery in the caller's transaction.

    The fast path is one ``INSERT ... ON CONFLICT (webhook_id) DO NOTHING``. When the id is
    already stored, the stored copy is compared: a retry of the same content is a duplicate;
    different content (another body, shop or topic under a reused id) is kept under the id
    plus a digest of its content, as ``conflict`` with the reason, so it is neither lost nor
    hidden, and never applied. A retry of that copy finds it and is a duplicate too.
    """
    values = new_row(webhook_id=webhook_id, shop_domain=shop_domain, topic=topic, api_version=api_version, event_id=event_id,
                     triggered_at=triggered_at, headers=headers, body=body, now=now)
    if insert_on_conflict(connection, WebhookDelivery, values, ["webhook_id"]).rowcount == 1:
        return Stored.NEW
    first = connection.execute(
        select(_INBOX.c.shop_domain, _INBOX.c.topic, _INBOX.c.body).where(_INBOX.c.webhook_id == webhook_id)
    ).one()
    if (first.shop_domain, first.topic, bytes(first.body)) == (shop_domain, topic, bytes(body)):
        return Stored.DUPLICATE
    digest = hashlib.sha256(b"\0".join([shop_domain.encode(), topic.encode(), bytes(body)])).hexdigest()[:16]
    conflict = {
        **values,
        "webhook_id": f"{webhook_id}#{digest}",
        "status": DeliveryStatus.CONFLICT.value,
        "last_error": f"webhook id {webhook_id} was first received with other content "
        f"({_differs(first, shop_domain, topic, body)}); this copy is kept and not applied",
        "processed_at": now,
    }
    inserted = insert_on_conflict(connection, WebhookDelivery, conflict, ["webhook_id"]).rowcount == 1
    return Stored.CONFLICT if inserted else Stored.DUPLICATE


def _differs(first, shop_domain: str, topic: str, body: bytes) -> str:
    parts = [name for name, same in (("shop", first.shop_domain == shop_domain), ("topic", first.topic == topic),
                                     ("body", bytes(first.body) == bytes(body))) if not same]
    return "other " + " and ".join(parts)


# -- the worker's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery taken for one try."""

    id: int
    shop_domain: str
    topic: str
    body: bytes
    attempts: int  # tries before this one
    order_id: str | None
    business_key: str | None
    triggered_at: str | None = None  # X-Shopify-Triggered-At, as sent

    @property
    def triggered(self) -> datetime | None:
        """When Shopify triggered the delivery, if the header held a readable time."""
        try:
            moment = datetime.fromisoformat((self.triggered_at or "").replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None


def claim(session: Session, due_by: datetime, postgres: bool, limit: int) -> list[Claimed]:
    """Up to ``limit`` received deliveries due by ``due_by``, oldest due first (index order:
    no sort, no scan). On PostgreSQL the rows stay locked (``SKIP LOCKED``) until the caller's
    transaction ends, so concurrent workers take different ones."""
    query = (
        select(_INBOX.c.id, _INBOX.c.shop_domain, _INBOX.c.topic, _INBOX.c.body, _INBOX.c.attempts, _INBOX.c.order_id,
               _INBOX.c.business_key, _INBOX.c.triggered_at)
        .where(_INBOX.c.status == DeliveryStatus.RECEIVED.value, _INBOX.c.next_attempt_at <= due_by)
        .order_by(_INBOX.c.next_attempt_at, _INBOX.c.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    return [Claimed(r.id, r.shop_domain, r.topic, bytes(r.body), r.attempts, r.order_id, r.business_key, r.triggered_at)
            for r in session.execute(query)]


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, ... capped at one hour."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


@dataclass(frozen=True)
class Settlement:
    """What one try of a delivery concluded."""

    status: DeliveryStatus
    note: str | None = None  # why, for a person: the reason of a failure, review or conflict
    order_id: str | None = None
    business_key: str | None = None
    retry: bool = False  # the failure may pass: try again later, up to the maximum
    redact_body: bool = False  # the delivery itself names a customer (a privacy request)

    def __post_init__(self) -> None:
        # A note may carry text from elsewhere (an exception, Shopify's answer): keep it a note.
        if self.note is not None and len(self.note) > MAX_NOTE:
            object.__setattr__(self, "note", self.note[: MAX_NOTE - 1] + "…")


MAX_NOTE = 2000
"""The longest note kept on a delivery (``last_error``), in characters."""


# Built once: one per try. ``coalesce`` keeps what the row had when the try did not say.
_FINISH = update(_INBOX).where(_INBOX.c.id == bindparam("delivery_id")).values(
    attempts=bindparam("attempts"), last_error=bindparam("note"), status=bindparam("status"),
    processed_at=bindparam("processed_at", type_=_INBOX.c.processed_at.type),
    next_attempt_at=func.coalesce(bindparam("next_attempt_at", type_=_INBOX.c.next_attempt_at.type), _INBOX.c.next_attempt_at),
    order_id=func.coalesce(bindparam("order_id", type_=_INBOX.c.order_id.type), _INBOX.c.order_id),
    business_key=func.coalesce(bindparam("business_key", type_=_INBOX.c.business_key.type), _INBOX.c.business_key),
)


def finish(session: Session, delivery: Claimed, settlement: Settlement, now: datetime, max_attempts: int) -> DeliveryStatus:
    """Record one try of ``delivery``; returns its status now. In ONE statement (two for a
    privacy request, whose body is redacted), or, in an open batch (``store.batch``), held and
    written with the batch's others in one executemany (``write_finished``)."""
    attempts = delivery.attempts + 1
    status = settlement.status
    retry_at = None
    if settlement.retry:
        status = DeliveryStatus.RECEIVED if attempts < max_attempts else DeliveryStatus.FAILED
        retry_at = now + backoff(attempts)
    values = {
        "delivery_id": delivery.id, "attempts": attempts, "note": settlement.note, "status": status.value,
        "processed_at": None if status is DeliveryStatus.RECEIVED else now, "next_attempt_at": retry_at,
        "order_id": settlement.order_id, "business_key": settlement.business_key,
    }
    batch = batches.current(session)
    if batch is None:
        session.connection().execute(_FINISH, values)
    else:
        batch.finished.append(values)
        if status is DeliveryStatus.PARKED and (settlement.order_id or delivery.order_id):
            batch.parked.add((delivery.shop_domain, settlement.order_id or delivery.order_id))
    if settlement.redact_body:
        session.execute(update(_INBOX).where(_INBOX.c.id == delivery.id).values(body=REDACTED))
    return status


def write_finished(session: Session) -> None:
    """Write the tries the open batch holds (``finish``), in one executemany."""
    batch = batches.current(session)
    if batch is not None and batch.finished:
        session.connection().execute(_FINISH, batch.finished)
        batch.finished, batch.parked = [], set()


def settle_parked(
    session: Session, shop_domain: str, order_id: str, outcomes: Mapping[str, Settlement], now: datetime
) -> None:
    """The order's sale arrived and replayed its parked events: settle their deliveries.
    ``outcomes`` maps a business key to how its event ended; a parked delivery whose key is
    not there was applied (``done``)."""
    batch = batches.current(session)
    if batch is not None and (shop_domain, order_id) in batch.parked:
        raise RuntimeError(f"order {order_id}'s parked deliveries are held unwritten in the batch; write them first")
    where = and_(_INBOX.c.shop_domain == shop_domain, _INBOX.c.order_id == order_id, _INBOX.c.status == DeliveryStatus.PARKED.value)
    for key, settlement in outcomes.items():
        values = {"status": settlement.status.value, "last_error": settlement.note, "processed_at": now}
        if settlement.retry:
            values.update(status=DeliveryStatus.RECEIVED.value, next_attempt_at=now, processed_at=None)
        session.execute(update(_INBOX).where(where, _INBOX.c.business_key == key).values(**values))
    session.execute(update(_INBOX).where(where).values(status=DeliveryStatus.DONE.value, processed_at=now, last_error=None))


def release_held(session: Session, shop_domain: str, now: datetime) -> int:
    """The shop reinstalled: its held deliveries are due again, in the order received."""
    return session.execute(
        update(_INBOX).where(_INBOX.c.shop_domain == shop_domain, _INBOX.c.status == DeliveryStatus.HELD.value)
        .values(status=DeliveryStatus.RECEIVED.value, next_attempt_at=now, processed_at=None)
    ).rowcount


def retry(session: Session, shop_domain: str, delivery_id: int, now: datetime) -> bool:
    """A person asks for another try of a failed or parked delivery of this shop: it is due
    now, with a fresh count of attempts. False when there is no such delivery."""
    retried = session.execute(
        update(_INBOX)
        .where(_INBOX.c.id == delivery_id, _INBOX.c.shop_domain == shop_domain,
               _INBOX.c.status.in_([DeliveryStatus.FAILED.value, DeliveryStatus.PARKED.value]))
        .values(status=DeliveryStatus.RECEIVED.value, attempts=0, next_attempt_at=now, processed_at=None)
    )
    return retried.rowcount == 1


def held_for_review(session: Session, shop_domain: str, delivery_id: int):
    """This shop's delivery held for review (its order and key), or None."""
    query = select(_INBOX.c.id, _INBOX.c.order_id, _INBOX.c.business_key).where(
        _INBOX.c.id == delivery_id, _INBOX.c.shop_domain == shop_domain, _INBOX.c.status == DeliveryStatus.REVIEW.value)
    return session.execute(query).first()


def resolve_review(session: Session, shop_domain: str, delivery_id: int, status: DeliveryStatus, note: str, now: datetime) -> bool:
    """A person settled a delivery held for review: its status and why. False when it is not
    (or no longer) this shop's held delivery: two decisions racing, only one settles it."""
    result = session.execute(
        update(_INBOX)
        .where(_INBOX.c.id == delivery_id, _INBOX.c.shop_domain == shop_domain, _INBOX.c.status == DeliveryStatus.REVIEW.value)
        .values(status=status.value, last_error=note, processed_at=now)
    )
    return result.rowcount == 1


def has_pending(session: Session, shop_domain: str, order_ids: Iterable[str]) -> bool:
    """Whether a delivery of these orders still waits for a try (its body is still needed)."""
    query = select(_INBOX.c.id).where(
        _INBOX.c.shop_domain == shop_domain, _INBOX.c.order_id.in_(list(order_ids)), _INBOX.c.status == DeliveryStatus.RECEIVED.value
    ).limit(1)
    return session.execute(query).first() is not None


def redact(session: Session, shop_domain: str, order_ids: Iterable[str] | None = None) -> int:
    """Replace the stored bodies of the shop's settled deliveries (of ``order_ids`` only, when
    given) with ``REDACTED``; returns how many. Every settled status counts: a body held for
    review, parked or failed names the customer as much as a processed one."""
    where = [_INBOX.c.shop_domain == shop_domain, _INBOX.c.status != DeliveryStatus.RECEIVED.value, _INBOX.c.body != REDACTED]
    if order_ids is not None:
        where.append(_INBOX.c.order_id.in_(list(order_ids)))
    # A held delivery redacted can never be processed: it is settled as ignored, with why.
    held = _INBOX.c.status == DeliveryStatus.HELD.value
    session.execute(update(_INBOX).where(*where, held).values(
        status=DeliveryStatus.IGNORED.value, last_error="redacted on a privacy request before the shop reinstalled"))
    return session.execute(update(_INBOX).where(*where).values(body=REDACTED)).rowcount


# -- cleanup ----------------------------------------------------------------------------------


def prune_batch(session: Session, finished_before: datetime, postgres: bool, limit: int) -> int:
    """Delete up to ``limit`` deliveries that finished (``FINISHED``) before
    ``finished_before``; returns how many.

    The age is ``processed_at``, when the delivery settled (a refund parked for a week and
    applied yesterday is one day old). ``next_attempt_at`` is never later than
    ``processed_at`` (a try is due before it settles), so the extra bound on it narrows
    nothing and lets the runnable index (status, next_attempt_at, id) find the batch without
    reading every finished row. On PostgreSQL the batch skips rows other transactions hold
    (a redaction, another worker's prune), so a prune never waits on a lock.

    A Shopify retry of a pruned delivery is no longer recognised here as a duplicate: it is
    stored as new and tried again, and the ledger's record identities (from payload ids) make
    that try add nothing; it settles ``ignored``. That is why the retention is bounded below
    (``config.INBOX_RETENTION_DAYS``): within Shopify's retry window the inbox answers it.
    """
    candidates = (
        select(_INBOX.c.id)
        .where(_INBOX.c.status.in_([s.value for s in FINISHED]), _INBOX.c.next_attempt_at < finished_before,
               _INBOX.c.processed_at < finished_before)
        .limit(limit)
    )
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True)
    return session.execute(delete(_INBOX).where(_INBOX.c.id.in_(candidates.scalar_subquery()))).rowcount


def prune(database: Database, finished_before: datetime, batch: int = 1000, max_batches: int | None = None) -> int:
    """Delete the deliveries finished before ``finished_before`` in batches of ``batch``,
    each in its own short transaction (locks held for one batch only; on SQLite the writer
    lock is free between batches for the intake), until none is left or ``max_batches``
    batches ran; returns how many were deleted."""
    removed = batches = 0
    while max_batches is None or batches < max_batches:
        with database.transaction() as session:
            count = prune_batch(session, finished_before, database.is_postgres, batch)
        removed += count
        batches += 1
        if count < batch:
            break
    return removed


# -- reading --------------------------------------------------------------------------------


def counts_by_status(session: Session, shop_domain: str | None = None) -> dict[str, int]:
    """How many deliveries are in each status (statuses with none are left out)."""
    query = select(_INBOX.c.status, func.count()).group_by(_INBOX.c.status)
    if shop_domain is not None:
        query = query.where(_INBOX.c.shop_domain == shop_domain)
    return {status: count for status, count in session.execute(query)}


def _needing_attention(parked_since: datetime, shop_domain: str | None) -> list:
    """Deliveries a person should look at: failed, conflicting, held for review, parked
    since before ``parked_since`` (their order never arrived), or still retrying after a
    failed try (``last_error`` set while received)."""
    where = [or_(
        _INBOX.c.status.in_([s.value for s in NEEDS_ATTENTION]),
        and_(_INBOX.c.status == DeliveryStatus.PARKED.value, _INBOX.c.received_at < parked_since),
        and_(_INBOX.c.status == DeliveryStatus.RECEIVED.value, _INBOX.c.attempts > 0),
    )]
    if shop_domain is not None:
        where.append(_INBOX.c.shop_domain == shop_domain)
    return where


def needing_attention(session: Session, parked_since: datetime, shop_domain: str | None = None, limit: int = 1000) -> list:
    """The deliveries needing a person (``_needing_attention``), oldest first."""
    query = (
        select(_INBOX.c.id, _INBOX.c.shop_domain, _INBOX.c.topic, _INBOX.c.status, _INBOX.c.order_id, _INBOX.c.business_key,
               _INBOX.c.last_error, _INBOX.c.received_at, _INBOX.c.attempts)
        .where(*_needing_attention(parked_since, shop_domain))
        .order_by(_INBOX.c.id)
        .limit(limit)
    )
    return list(session.execute(query))


def count_needing_attention(session: Session, parked_since: datetime, shop_domain: str) -> int:
    """How many deliveries of a shop need a person (the admin's badge and home page)."""
    query = select(func.count()).select_from(_INBOX).where(*_needing_attention(parked_since, shop_domain))
    return session.execute(query).scalar_one()
