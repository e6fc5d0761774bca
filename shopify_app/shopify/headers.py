"""A webhook delivery's envelope: what Shopify says about it in its headers.

Header names compare case-insensitively (HTTP/2 lowercases them). The headers are not
covered by the HMAC, so nothing here is trusted beyond being well-formed: the shop domain
must be a ``*.myshopify.com`` host, and no value may hold control characters (a NUL
cannot be stored in PostgreSQL text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from shopify_app.shopify.domains import InvalidShopDomain, valid_shop_domain

__all__ = [
    "HMAC_HEADER",
    "REQUIRED_HEADERS",
    "Envelope",
    "EnvelopeError",
    "missing_headers",
    "parse_envelope",
    "shopify_headers",
]

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC = "X-Shopify-Topic"
SHOP_DOMAIN = "X-Shopify-Shop-Domain"
WEBHOOK_ID = "X-Shopify-Webhook-Id"
API_VERSION = "X-Shopify-API-Version"
EVENT_ID = "X-Shopify-Event-Id"
TRIGGERED_AT = "X-Shopify-Triggered-At"

# Shopify's own validator (shopify-app-js lib/webhooks/validate.ts) requires these, plus the HMAC.
REQUIRED_HEADERS = (TOPIC, SHOP_DOMAIN, WEBHOOK_ID, API_VERSION)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class EnvelopeError(ValueError):
    """The headers do not describe a delivery: ``missing`` names absent required headers."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing


@dataclass(frozen=True)
class Envelope:
    topic: str
    shop_domain: str  # validated and lowercased: NAME.myshopify.com
    webhook_id: str
    api_version: str
    event_id: str | None = None
    triggered_at: str | None = None


def _lowered(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {key.lower(): value for key, value in items}


MAX_VALUE = 255
"""Longest header value kept: Shopify's are ids, topics, versions and times, all short."""


def _value(lowered: Mapping[str, str], header: str) -> str | None:
    value = (lowered.get(header.lower()) or "").strip()
    if _CONTROL.search(value):
        raise EnvelopeError(f"header {header} holds a control character")
    if len(value) > MAX_VALUE:
        raise EnvelopeError(f"header {header} is longer than {MAX_VALUE} characters")
    return value or None


def missing_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The required headers that are absent or blank, in ``REQUIRED_HEADERS`` order."""
    lowered = _lowered(headers)
    return tuple(header for header in REQUIRED_HEADERS if not (lowered.get(header.lower()) or "").strip())


def parse_envelope(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> Envelope:
    """The envelope, or ``EnvelopeError`` naming every missing header or the bad value."""
    lowered = _lowered(headers)
    missing = missing_headers(lowered)
    if missing:
        raise EnvelopeError(f"missing required headers: {', '.join(missing)}", missing)
    values = {header: _value(lowered, header) for header in (*REQUIRED_HEADERS, EVENT_ID, TRIGGERED_AT)}
    try:
        shop_domain = valid_shop_domain(values[SHOP_DOMAIN] or "")
    except InvalidShopDomain as exc:
        raise EnvelopeError(f"header {SHOP_DOMAIN}: {exc}") from None
    return Envelope(
        topic=values[TOPIC] or "",
        shop_domain=shop_domain,
        webhook_id=values[WEBHOOK_ID] or "",
        api_version=values[API_VERSION] or "",
        event_id=values[EVENT_ID],
        triggered_at=values[TRIGGERED_AT],
    )


def shopify_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """The ``X-Shopify-*`` headers and ``Content-Type``, names lowercased, for the inbox row."""
    return {
        key: value
        for key, value in sorted(_lowered(headers).items())
        if key.startswith("x-shopify-") or key == "content-type"
    }
