"""What the app asks of Shopify, stated once in code and kept equal to ``shopify.app.toml`` by
a test (the TOML is deployed with ``shopify app deploy``; the code runs without it)."""

from __future__ import annotations

API_VERSION = "2026-07"
"""The Admin API version the client calls and the webhook payload shape the models read."""

SCOPES = ("read_orders", "read_returns", "read_shopify_payments_disputes")
"""The least access the app needs; why each, in shopify.app.toml."""

BACKFILL_MAX_DAYS = 60
"""``read_orders`` reaches the last 60 days of orders; older ones need ``read_all_orders``,
which the app does not request."""
