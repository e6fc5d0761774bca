"""Clawback's Shopify app: Flask factory, persistence, webhooks, CLI."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask

from shopify_app.config import Config
from shopify_app.db import Database
from shopify_app.migrate import upgrade


def utcnow() -> datetime:
    """The app's one clock read; the pure core is always handed the time."""
    return datetime.now(timezone.utc)


def create_app(config: Config | None = None, *, migrate: bool | None = None) -> Flask:
    """Build the app. Does no work at import time.

    The embedded SQLite default is migrated on start; PostgreSQL is migrated explicitly
    (``clawback db upgrade``) unless ``migrate=True``.
    """
    config = config or Config.from_env()
    app = Flask(__name__, instance_relative_config=False)
    app.config["CLAWBACK"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_webhook_bytes
    database = Database(config.database_url)
    if migrate if migrate is not None else config.is_sqlite:
        upgrade(database)
    app.extensions["clawback.db"] = database

    from shopify_app.health import blueprint as health
    from shopify_app.webhooks.routes import blueprint as webhooks

    app.register_blueprint(health)
    app.register_blueprint(webhooks)
    return app


def database_of(app: Flask) -> Database:
    return app.extensions["clawback.db"]


def config_of(app: Flask) -> Config:
    return app.config["CLAWBACK"]
