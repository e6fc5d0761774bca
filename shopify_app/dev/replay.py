"""``clawback replay``: send a payload file as Shopify would, signed with the app secret."""

from __future__ import annotations

import uuid

import requests

from shopify_app.clock import utcnow
from shopify_app.config import Config
from shopify_app.shopify.signature import sign


def shopify_headers(body: bytes, topic: str, shop: str, secret: str, webhook_id: str | None = None, api_version: str = "2026-07") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": utcnow().isoformat(),
    }


def send(body: bytes, topic: str, shop: str, config: Config, url: str | None = None, timeout: float = 10.0) -> int:
    """POST ``body`` to the webhook endpoint; returns the HTTP status."""
    target = url or config.app_url.rstrip("/") + "/webhooks"
    response = requests.post(target, data=body, headers=shopify_headers(body, topic, shop, config.api_secret), timeout=timeout)
    return response.status_code
