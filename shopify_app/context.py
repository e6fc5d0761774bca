"""What a request handler (web or webhooks) needs from the app it runs in, without importing the factory
(which imports the handlers)."""

from __future__ import annotations

from flask import current_app

from shopify_app.config import Config
from shopify_app.store.engine import Database


def database() -> Database:
    return current_app.extensions["clawback.db"]


def config() -> Config:
    return current_app.config["CLAWBACK"]
