"""Signed Shopify webhook deliveries for tests: ``clawback replay``'s headers, with knobs
to break them."""

from __future__ import annotations

import json
from typing import Any

from shopify_app.dev.replay import shopify_headers

SHOP = "demo.myshopify.com"
SECRET = "dev-api-secret-for-local-use-only"
API_VERSION = "2026-07"


def body_bytes(payload: Any) -> bytes:
    """Bytes as given; anything else as compact JSON (the bytes that get signed)."""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def signed_headers(
    body: bytes,
    topic: str,
    shop: str = SHOP,
    secret: str | None = SECRET,
    webhook_id: str | None = None,
    *,
    api_version: str = API_VERSION,
    event_id: str | None = None,
    triggered_at: str = "2026-11-02T10:00:00.000Z",
    hmac: str | None = None,
    omit: tuple[str, ...] = (),
    lowercase: bool = False,
) -> dict[str, str]:
    """Shopify's delivery headers for ``body``.

    ``secret=None`` leaves the HMAC header out; ``hmac`` overrides its value; ``omit`` drops
    headers by (case-insensitive) name; ``lowercase`` sends every name lowercased (HTTP/2).
    """
    headers = shopify_headers(body, topic, shop, secret or "", webhook_id, api_version)
    headers["X-Shopify-Event-Id"] = event_id or headers["X-Shopify-Event-Id"]
    headers["X-Shopify-Triggered-At"] = triggered_at
    if hmac is not None:
        headers["X-Shopify-Hmac-Sha256"] = hmac
    elif secret is None:
        del headers["X-Shopify-Hmac-Sha256"]
    dropped = {name.lower() for name in omit}
    headers = {name: value for name, value in headers.items() if name.lower() not in dropped}
    if lowercase:
        headers = {name.lower(): value for name, value in headers.items()}
    return headers


def post_webhook(client, topic: str, payload_or_bytes: Any, shop: str = SHOP, path: str = "/webhooks", **kw: Any):
    """POST a signed delivery through a Flask test client; ``kw`` goes to :func:`signed_headers`."""
    body = body_bytes(payload_or_bytes)
    return client.post(path, data=body, headers=signed_headers(body, topic, shop, **kw))
