"""One try of one stored delivery: parse it once, apply it, and say how it settled.

The path reads top to bottom: ``shopify.parse`` reads the body into a snapshot; a
shop-level topic goes to ``services.privacy``; an order-level one to
``services.orders.apply_snapshot`` (lock the order, events, policy, ledger, facts); a sale
that replayed parked events settles their deliveries (``store.inbox.settle_parked``). All of
it runs in a savepoint of the caller's transaction, so a failed try leaves nothing behind.

How a try settles:
- ``conflict``: the same id arrived with other content (nothing applied);
- ``failed`` at once: a payload no retry can fix, or an event that contradicts its order;
- retried with backoff, then ``failed``: anything that may pass (a thin body to fetch, a
  line not on the order yet, a database hiccup, a bug being fixed);
- ``parked``, ``review``, ``done`` or ``ignored`` otherwise.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from ledger.errors import IdempotencyConflict
from policy.engine import Effect, Replayed
from policy.errors import EventRefused
from shopify_app.services import privacy
from shopify_app.services.errors import TryLater
from shopify_app.services.orders import Applied, apply_snapshot
from shopify_app.shopify.errors import NeedsFetch, PayloadError
from shopify_app.shopify.parse import Parsed, identify, parse_delivery
from shopify_app.shopify.snapshots import CustomerRedact, DataRequest, ScopesUpdate, ShopRedact, ShopSnapshot
from shopify_app.shopify.topics import TopicKind
from shopify_app.store import inbox, shops
from shopify_app.store.inbox import Claimed, DeliveryStatus, Settlement
from shopify_app.store.tables import Shop

log = logging.getLogger("clawback.process")

SHOP_LEVEL = frozenset({TopicKind.APP_UNINSTALLED, TopicKind.SCOPES_UPDATE, TopicKind.DATA_REQUEST,
                        TopicKind.CUSTOMERS_REDACT, TopicKind.SHOP_REDACT})


def process(session: Session, delivery: Claimed, now: datetime) -> Settlement:
    """Try ``delivery`` once in a savepoint of ``session``; never raises for a bad delivery."""
    try:
        parsed = parse_delivery(delivery.topic, delivery.body)
    except PayloadError as error:
        order_id, key = identify(delivery.topic, delivery.body)
        return Settlement(DeliveryStatus.FAILED, f"payload: {error}", order_id, key)
    settled = lambda status, note=None, **kw: Settlement(status, note, parsed.order_id, parsed.key, **kw)  # noqa: E731
    try:
        with session.begin_nested():
            shop = shops.find(session, delivery.shop_domain)
            if shop is None:
                return settled(DeliveryStatus.FAILED, f"no shop {delivery.shop_domain} is installed")
            if parsed.snapshot is None:
                return settled(DeliveryStatus.IGNORED, f"topic {delivery.topic} moves no commission")
            if parsed.kind in SHOP_LEVEL:
                return _shop_level(session, shop, parsed, now)
            if parsed.order_id is None:  # returns/update names only the return
                return settled(DeliveryStatus.IGNORED, f"{delivery.topic} names no order: it moves no commission")
            applied = apply_snapshot(session, shop, parsed.snapshot, now, topic=parsed.topic, triggered_at=delivery.triggered)
            if applied.replayed:
                inbox.settle_parked(session, shop.domain, applied.order_id, _replay_outcomes(applied.replayed), now)
            return _settlement(applied, parsed)
    except IdempotencyConflict as conflict:
        return settled(DeliveryStatus.CONFLICT, str(conflict))
    except EventRefused as refused:
        return settled(DeliveryStatus.FAILED, str(refused), retry=not refused.final)
    except (NeedsFetch, TryLater) as waiting:
        return settled(DeliveryStatus.FAILED, str(waiting), retry=True)
    except Exception as error:  # noqa: BLE001 - anything else is retried, then kept as failed, visibly
        log.warning("delivery %s (%s) attempt %s: %s: %s", delivery.id, delivery.topic, delivery.attempts + 1, type(error).__name__, error)
        return settled(DeliveryStatus.FAILED, f"{type(error).__name__}: {str(error)[:300]}", retry=True)


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
        return Settlement(DeliveryStatus.DONE, privacy.redact_shop(session, shop, snapshot), redact_body=True)
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


def _replay_outcomes(replayed: tuple[Replayed, ...]) -> dict[str, Settlement]:
    """How each replayed parked event settles its delivery; applied ones are simply done."""
    outcomes = {}
    for item in replayed:
        if item.effect is Effect.CONFLICT:
            outcomes[item.key] = Settlement(DeliveryStatus.CONFLICT, item.problem)
        elif item.effect is Effect.REFUSED:
            outcomes[item.key] = Settlement(DeliveryStatus.FAILED, item.problem, retry=not item.final)
        elif item.review:
            outcomes[item.key] = Settlement(DeliveryStatus.REVIEW, "; ".join(item.review))
    return outcomes
