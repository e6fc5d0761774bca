"""Tries of stored deliveries, a claimed batch at a time: parse each once, apply it, and
say how it settled.

The path reads top to bottom: ``shopify.parse`` reads the body into a snapshot; a
shop-level topic goes to ``services.privacy``; an order-level one to
``services.orders.apply_snapshot`` (lock the order, events, policy, ledger, facts; a sale that
replays parked events settles their deliveries). What the webhook could not tell (the order
of a refund that came first, a thin return) is read from Shopify in the same try
(``services.reading``). Each try runs in a savepoint of the caller's transaction (the
batch's), so a failed try leaves nothing behind, in the database or in what the batch holds
in memory (``store.batch.savepoint``).

How a try settles:
- ``conflict``: the same id arrived with other content (nothing applied);
- ``failed`` at once: a payload no retry can fix, or an event that contradicts its order;
- retried with backoff, then ``failed``: anything that may pass (a thin body to fetch, a
  line not on the order yet, a database hiccup, a bug being fixed);
- ``parked``, ``review``, ``done`` or ``ignored`` otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Sequence

from sqlmodel import Session

from ledger.errors import IdempotencyConflict
from policy.attribution import code_keys
from policy.engine import Effect
from policy.errors import EventRefused
from shopify_app.services import install, privacy
from shopify_app.services.errors import TryLater
from shopify_app.services.orders import Applied, apply_snapshot, replay_settlements
from shopify_app.services.reading import Readers
from shopify_app.shopify.errors import NeedsFetch, PayloadError
from shopify_app.shopify.http import ShopifyError
from shopify_app.shopify.parse import Parsed, identify, parse_delivery
from shopify_app.shopify.snapshots import CustomerRedact, DataRequest, OrderSnapshot, ReturnSnapshot, ScopesUpdate, ShopRedact, ShopSnapshot
from shopify_app.shopify.topics import TopicKind
from shopify_app.store import batch as batches, inbox, orders, shops
from shopify_app.store.batch import savepoint
from shopify_app.store.inbox import Claimed, DeliveryStatus, Settlement
from shopify_app.store.ledger import LedgerStore
from shopify_app.store.tables import Shop

log = logging.getLogger("clawback.process")

SHOP_LEVEL = frozenset({TopicKind.APP_UNINSTALLED, TopicKind.SCOPES_UPDATE, TopicKind.DATA_REQUEST,
                        TopicKind.CUSTOMERS_REDACT, TopicKind.SHOP_REDACT})


def try_batch(
    session: Session, batch: Sequence[Claimed], now: datetime, readers: Readers | None = None, max_attempts: int = 8,
) -> list[tuple[int, DeliveryStatus]]:
    """Try each delivery of a claimed batch once, in order, each in a savepoint of
    ``session``, and record how it settled (``store.inbox.finish``); a bad delivery never
    raises. Returns ``(delivery id, status)`` of each.

    Done once per batch, not per delivery: each body is parsed, each shop read, and every order
    the batch applies to locked, in key order, before any is applied, so two workers whose
    batches share orders queue instead of deadlocking (``store.orders.lock_in_order``). The
    orders and their records are read then and held in memory (``store.batch``); what the tries
    change of them, of the balance totals and of the deliveries' statuses is written once at
    the end. A batch of several is first tried optimistically, without a database savepoint
    per try; if a try fails after writing, that pass is undone and the batch tried carefully,
    a savepoint per try (``store.batch.opened``). With ``readers``, what a webhook could not
    tell is read from Shopify in the same try: the order of an event that arrived before it, a
    thin return, an edit's new lines."""
    parsed = [_parse(delivery) for delivery in batch]
    shop_of = {domain: shops.find(session, domain) for domain in sorted({delivery.shop_domain for delivery in batch})}
    applied = sorted({(shop.id, one.order_id) for delivery, one in zip(batch, parsed)
                      if isinstance(one, Parsed) and _applies(one, shop := shop_of[delivery.shop_domain])})
    orders.lock_in_order(session, applied, now)
    # Not optimistic when a try may refresh a shop's token: a refresh token works once, and
    # a pass undone and run again would send it twice.
    if len(batch) > 1 and not (readers is not None and any(shop and install.refresh_due(shop, now) for shop in shop_of.values())):
        try:
            with session.begin_nested():
                return _pass(session, batch, parsed, shop_of, applied, now, readers, max_attempts, careful=False)
        except batches.Spoiled as spoiled:
            log.info("batch of %s: %s; tried again with a savepoint per try", len(batch), spoiled)
    return _pass(session, batch, parsed, shop_of, applied, now, readers, max_attempts, careful=True)


def _pass(
    session: Session, batch: Sequence[Claimed], parsed: list, shop_of: dict, applied: list, now: datetime, readers: Readers | None,
    max_attempts: int, *, careful: bool,
) -> list[tuple[int, DeliveryStatus]]:
    """One pass over the batch (``try_batch``): optimistic (a try's savepoint is a frame in
    memory only) or careful (a database savepoint per try), ``store.batch.opened``."""
    settled = []
    with batches.opened(session, careful=careful) as held:
        orders.hold(session, applied)
        _hold_affiliates(session, batch, parsed, shop_of)
        for shop_id in {shop_id for shop_id, _ in applied}:
            LedgerStore(session, shop_id).hold([order_id for held_shop, order_id in applied if held_shop == shop_id])
        for delivery, one in zip(batch, parsed):
            if isinstance(one, Parsed) and (one.kind in SHOP_LEVEL or (delivery.shop_domain, one.order_id) in held.parked):
                inbox.write_finished(session)  # this try reads stored statuses: a sale settles its parked deliveries
            settlement = one if isinstance(one, Settlement) else _try(session, shop_of[delivery.shop_domain], delivery, one, now, readers)
            settled.append((delivery.id, inbox.finish(session, delivery, settlement, now, max_attempts)))
    return settled


def _hold_affiliates(session: Session, batch: Sequence[Claimed], parsed: list, shop_of: dict) -> None:
    """The affiliates the batch's orders name by code, one read per shop (``store.shops``)."""
    keys: dict[int, set[str]] = {}
    for delivery, one in zip(batch, parsed):
        if isinstance(one, Parsed) and isinstance(one.snapshot, OrderSnapshot) and (shop := shop_of[delivery.shop_domain]) is not None:
            keys.setdefault(shop.id, set()).update(code_keys(one.snapshot.clues))
    for shop_id, wanted in keys.items():
        shops.hold_affiliates(session, shop_id, wanted)


def _parse(delivery: Claimed) -> Parsed | Settlement:
    """The delivery's body read once, or how it failed (a payload no retry can fix)."""
    try:
        return parse_delivery(delivery.topic, delivery.body)
    except PayloadError as error:
        order_id, key = identify(delivery.topic, delivery.body)
        return Settlement(DeliveryStatus.FAILED, f"payload: {error}", order_id, key)


def _applies(parsed: Parsed, shop: Shop | None) -> bool:
    """Whether the delivery goes to its order (and so locks it): an order-level topic of an
    installed shop."""
    return (shop is not None and parsed.snapshot is not None and parsed.kind not in SHOP_LEVEL
            and shop.uninstalled_at is None and parsed.order_id is not None)


def _try(session: Session, shop: Shop | None, delivery: Claimed, parsed: Parsed, now: datetime, readers: Readers | None) -> Settlement:
    """One try, in ONE savepoint on its usual path (a second only when it reads Shopify)."""
    settled = lambda status, note=None, **kw: Settlement(status, note, parsed.order_id, parsed.key, **kw)  # noqa: E731
    try:
        if shop is None:
            return settled(DeliveryStatus.FAILED, f"no shop {delivery.shop_domain} is installed")
        if parsed.snapshot is None:
            return settled(DeliveryStatus.IGNORED, f"topic {delivery.topic} moves no commission")
        if parsed.kind in SHOP_LEVEL:
            with savepoint(session):
                return _shop_level(session, shop, parsed, now)
        if shop.uninstalled_at is not None:
            return settled(DeliveryStatus.HELD, "held: the shop has uninstalled the app; processed if it reinstalls")
        if parsed.order_id is None:  # returns/update names only the return
            return settled(DeliveryStatus.IGNORED, f"{delivery.topic} names no order: it moves no commission")
        return _apply_reading_shopify(session, shop, parsed, delivery, now, readers)
    except batches.Spoiled:
        raise  # the whole pass is undone and run again carefully (``try_batch``)
    except IdempotencyConflict as conflict:
        return settled(DeliveryStatus.CONFLICT, str(conflict))
    except EventRefused as refused:
        return settled(DeliveryStatus.FAILED, str(refused), retry=not refused.final)
    except (NeedsFetch, TryLater) as waiting:
        return settled(DeliveryStatus.FAILED, str(waiting), retry=True)
    except Exception as error:  # noqa: BLE001 - anything else is retried, then kept as failed, visibly
        log.warning("delivery %s (%s) attempt %s: %s: %s", delivery.id, delivery.topic, delivery.attempts + 1, type(error).__name__, error)
        return settled(DeliveryStatus.FAILED, f"{type(error).__name__}: {str(error)[:300]}", retry=True)


def _apply(session: Session, shop: Shop, snapshot, parsed: Parsed, delivery: Claimed, now: datetime) -> Applied:
    """Apply one snapshot in its own savepoint."""
    with savepoint(session):
        return apply_snapshot(session, shop, snapshot, now, topic=parsed.topic, triggered_at=delivery.triggered)


def _apply_reading_shopify(session: Session, shop: Shop, parsed: Parsed, delivery: Claimed, now: datetime, readers: Readers | None) -> Settlement:
    """Apply the delivery; when it lacks what only Shopify can tell, read that and go on.

    - Too thin (``NeedsFetch``): read the return (if the body left lines out) and the order
      (its priced lines, its sale), then apply again; still too thin, it is retried later.
    - Parked (the order's sale unknown): read the order; if it is paid, its sale replays the
      parked events, this one included, and the delivery is settled by its own outcome.
    A failed read changes nothing: the delivery stays parked or is retried, and its note says
    why, Shopify's refusal included (a missing scope must reach "needs attention").
    """
    try:
        applied = _apply(session, shop, parsed.snapshot, parsed, delivery, now)
    except NeedsFetch as thin:
        if readers is None:
            raise
        read, failed = _read(session, shop, parsed, delivery, now, readers, refetch=True)
        if read is not None:
            return read
        if failed:
            raise NeedsFetch(f"{thin}; {failed}") from thin
        raise
    if Effect.PARKED in applied.effects and readers is not None:
        read, failed = _read(session, shop, parsed, delivery, now, readers, refetch=False)
        if read is not None:
            return read
        parked = _settlement(applied, parsed)
        return replace(parked, note="; ".join(filter(None, (parked.note, failed)))) if failed else parked
    return _settlement(applied, parsed)


def _read(
    session: Session, shop: Shop, parsed: Parsed, delivery: Claimed, now: datetime, readers: Readers, *, refetch: bool,
) -> tuple[Settlement | None, str]:
    """Read the order (and a thin return) from Shopify, apply it, and say how the delivery
    settled; ``(None, why)`` when nothing could be read or it did not help (rolled back),
    ``why`` naming Shopify's failure when there was one ("" when the order is just not there
    or not paid yet)."""
    snapshot = parsed.snapshot
    try:
        # Outside the savepoint below: a token refreshed here must be kept when the read is undone.
        reader = readers(session, shop, now)
        if reader is None:
            return None, ""
        with savepoint(session):
            if isinstance(snapshot, ReturnSnapshot) and not snapshot.complete:
                snapshot = reader.return_(snapshot.return_id)
            order = reader.order(parsed.order_id)
            if order is None:
                return None, ""
            sale = _apply(session, shop, order, parsed, delivery, now)
            if not refetch:
                mine = [r for r in sale.replayed if r.key == parsed.key]
                if not mine:  # not paid yet, or replayed nothing of ours: leave it parked
                    raise _NothingRead
                problem = replay_settlements(tuple(mine)).get(parsed.key)
                return problem or Settlement(DeliveryStatus.DONE, "order read from Shopify", parsed.order_id, parsed.key), ""
            return _settlement(_apply(session, shop, snapshot, parsed, delivery, now), parsed), ""
    except (_NothingRead, NeedsFetch) as missing:
        if not isinstance(missing, _NothingRead):
            log.info("delivery %s: the order read from Shopify is still too thin: %s", delivery.id, missing)
        return None, ""
    except (ShopifyError, PayloadError) as failed:
        log.warning("delivery %s: reading Shopify failed: %s", delivery.id, failed)
        return None, f"reading Shopify failed: {failed}"


class _NothingRead(Exception):
    """Reading Shopify told nothing new: undo it."""


def _shop_level(session: Session, shop: Shop, parsed: Parsed, now: datetime) -> Settlement:
    """Uninstall, scope changes and privacy requests. A privacy request's own body names the
    customer, so it is redacted once handled; one naming another shop is refused."""
    snapshot = parsed.snapshot
    named = getattr(snapshot, "shop_domain", shop.domain)
    if named != shop.domain:
        return Settlement(DeliveryStatus.FAILED, f"{parsed.topic} names shop {named} but was delivered for {shop.domain}")
    if isinstance(snapshot, ShopSnapshot):
        return Settlement(DeliveryStatus.DONE, privacy.uninstalled(session, shop, snapshot, now))
    if isinstance(snapshot, ScopesUpdate):
        return Settlement(DeliveryStatus.DONE, privacy.scopes_updated(session, shop, snapshot))
    if isinstance(snapshot, DataRequest):
        return Settlement(DeliveryStatus.DONE, privacy.data_request(snapshot), redact_body=True)
    if isinstance(snapshot, CustomerRedact):
        return Settlement(DeliveryStatus.DONE, privacy.redact_customer(session, shop, snapshot), redact_body=True)
    if isinstance(snapshot, ShopRedact):
        return Settlement(DeliveryStatus.DONE, privacy.redact_shop(session, shop, snapshot, now), redact_body=True)
    raise TypeError(f"{type(snapshot).__name__} is not a shop-level snapshot")


def _settlement(applied: Applied, parsed: Parsed) -> Settlement:
    """A delivery that only repeated what was known (a duplicate, a second paid payload) is
    ``ignored``, whichever worker saw it first, so concurrent runs end in the same statuses."""
    note = "; ".join(applied.notes + applied.review) or None
    key = applied.key or parsed.key
    if Effect.PARKED in applied.effects:
        return Settlement(DeliveryStatus.PARKED, note, applied.order_id, key)
    if applied.review:
        return Settlement(DeliveryStatus.REVIEW, note, applied.order_id, key)
    status = DeliveryStatus.DONE if Effect.APPLIED in applied.effects else DeliveryStatus.IGNORED
    return Settlement(status, note, applied.order_id, key)
