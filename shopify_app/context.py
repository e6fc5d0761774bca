"""What a request handler (web or webhooks) needs from the app it runs in, without importing the factory
(which imports the handlers)."""

from __future__ import annotations

from flask import current_app

from shopify_app.config import Config
from shopify_app.shopify.http import ShopifyHTTP
from shopify_app.shopify.oauth import TokenEndpoint
from shopify_app.store.crypto import TokenCipher
from shopify_app.store.engine import Database
from shopify_app.store.intake import InboxWriter


def database() -> Database:
    return current_app.extensions["clawback.db"]


def inbox_writer() -> InboxWriter:
    """Where the intake stores new deliveries (``store.intake``): one per app, shared by its threads."""
    return current_app.extensions["clawback.inbox_writer"]


def config() -> Config:
    return current_app.config["CLAWBACK"]


def cipher() -> TokenCipher:
    return TokenCipher.from_config(config())


def shopify_origin(shop: str) -> str:
    """Where the shop's Shopify answers (``CLAWBACK_SHOPIFY_ORIGIN``; a local fake in tests)."""
    return config().shopify_origin.replace("{shop}", shop).rstrip("/")


def token_endpoint() -> TokenEndpoint:
    """Shopify's token endpoint for this app (token exchange, refresh, code exchange)."""
    settings = config()
    return TokenEndpoint(ShopifyHTTP(settings.shopify_origin), settings.api_key, settings.api_secret)
