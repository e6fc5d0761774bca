"""A delivery's topic and body bytes -> what it says: the one entry point for payloads.

Why here and once: the body is decoded once (``body.parse_json``, exact numbers) and
validated once (``models``); everything past this module works with the snapshot and never
with the payload. A body that is malformed raises :class:`PayloadError` with one line that
names the resource and the field path, e.g.
``order 1001: line_items[0].price_set.shop_money.amount: not a decimal amount: '12x'``, so a
person can act on a failed delivery; :func:`identify` still names its order and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from policy.events import DisputeChanged, RefundCreated
from shopify_app.shopify.body import parse_json
from shopify_app.shopify.errors import PayloadError
from shopify_app.shopify.fields import FIELD_ERROR, Loc, dotted
from shopify_app.shopify.models import MODELS, ids_of
from shopify_app.shopify.snapshots import EditSnapshot, OrderSnapshot, ReturnSnapshot, Snapshot
from shopify_app.shopify.topics import TOPICS, TopicKind

__all__ = ["Parsed", "identify", "parse_delivery", "refusal"]

# Kinds about one business object of one order; the others concern the whole shop.
_KEYED = frozenset({TopicKind.ORDER, TopicKind.REFUND, TopicKind.DISPUTE, TopicKind.EDIT, TopicKind.RETURN})


@dataclass(frozen=True)
class Parsed:
    topic: str
    kind: TopicKind | None  # None: a topic we do not handle
    order_id: str | None  # the order it concerns; None for shop-level topics
    key: str | None  # order:ID, refund:ID, dispute:ID:status, edit:ID, return:ID; None for shop-level topics
    snapshot: Snapshot | None  # None for unhandled topics


def parse_delivery(topic: str, raw: bytes) -> Parsed:
    """Decode and validate one delivery. A topic not in ``TOPICS`` moves nothing: its body
    is only decoded. Raises :class:`PayloadError` on anything malformed."""
    body = parse_json(raw)
    kind = TOPICS.get(topic)
    if kind is None:
        return Parsed(topic, None, None, None, None)
    try:
        payload = MODELS[kind].model_validate(body)
    except ValidationError as exc:
        raise PayloadError(_message(topic, kind, body, exc)) from None
    snapshot = payload.snapshot(topic)
    order_id, resource, status = _ids(snapshot)
    return Parsed(topic, kind, order_id, _key(kind, resource, status), snapshot)


def identify(topic: str, raw: bytes) -> tuple[str | None, str | None]:
    """Best effort ``(order_id, key)`` of a delivery that failed to parse, read from its id
    fields only, so people and ``customers/redact`` can still find it. Never raises."""
    kind = TOPICS.get(topic)
    if kind is None:
        return None, None
    try:
        body = parse_json(raw)
    except (PayloadError, TypeError):
        return None, None
    ids = ids_of(kind, body)
    return ids.order, _key(kind, ids.resource, ids.status)


def _ids(snapshot: Snapshot) -> tuple[str | None, str | None, str | None]:
    """(order id, resource id, dispute status) of a snapshot."""
    match snapshot:
        case OrderSnapshot():
            return snapshot.order_id, snapshot.order_id, None
        case RefundCreated():
            return snapshot.order_id, snapshot.refund_id, None
        case DisputeChanged():
            return snapshot.order_id, snapshot.dispute_id, snapshot.status
        case EditSnapshot():
            return snapshot.order_id, snapshot.edit_id, None
        case ReturnSnapshot():
            return snapshot.order_id, snapshot.return_id, None
    return None, None, None


def _key(kind: TopicKind, resource: str | None, status: str | None) -> str | None:
    """The business key, spelled like the policy events' keys, so the same refund seen
    again (a redelivery, another subscription) is recognised as such."""
    if kind not in _KEYED or resource is None:
        return None
    if kind is TopicKind.DISPUTE:
        return None if status is None else f"{kind}:{resource}:{status}"
    return f"{kind}:{resource}"


# -- messages --------------------------------------------------------------------------------

_OBJECT_ERRORS = frozenset({"model_type", "model_attributes_type", "dict_type"})


def _message(topic: str, kind: TopicKind, body: dict[str, Any], exc: ValidationError) -> str:
    """:func:`refusal`, naming the resource with its id when readable, else the topic."""
    if kind in _KEYED:
        resource_id = ids_of(kind, body).resource
        resource = str(kind) if resource_id is None else f"{kind} {resource_id}"
    else:
        resource = topic
    return refusal(resource, exc)


def refusal(resource: str, exc: ValidationError) -> str:
    """The one line a refused payload is told by, webhook or GraphQL alike: ``resource``,
    the path of the first error, its reason, and how many more there are."""
    loc, reason = _located(exc.errors(include_url=False)[0])
    path = dotted(loc)
    more = exc.error_count() - 1
    return f"{resource}: {path + ': ' if path else ''}{reason}{f' (and {more} more)' if more else ''}"


def _located(error: ErrorDetails) -> tuple[Loc, str]:
    loc = tuple(error["loc"])
    context = error.get("ctx") or {}
    if error["type"] == FIELD_ERROR:  # a model rule naming a field below the model
        return loc + tuple(context["loc"]), context["reason"]
    if error["type"] == "missing":
        return loc, "missing"
    if error["type"] in _OBJECT_ERRORS:
        value = error["input"]
        return loc, f"expected an object, got {'null' if value is None else type(value).__name__}"
    return loc, error["msg"].removeprefix("Value error, ")
